"""Bodies of the pipeline registry's routes (``gateway.routers.pipelines``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.models.common import NextPageToken, ResponseModel


class Pipeline(ResponseModel):
    name: str = Field(description="the registry name", examples=["nf-core/scrnaseq"])
    display_name: str = Field(description="a human name for menus")
    description: str = Field(description="what the pipeline does, in a sentence or two")
    repository_url: str = Field(description="the pipeline's source", examples=["https://github.com/nf-core/scrnaseq"])
    versions: list[str] = Field(description="the versions the platform offers, newest first")
    default_version: str = Field(description="the version used when a request names none")


class PipelinePage(ResponseModel):
    pipelines: list[Pipeline] = Field(description="the page, by name")
    next_page_token: NextPageToken


class Param(ResponseModel):
    """One parameter of the pipeline's ``nextflow_schema.json``."""

    name: str = Field(description="the param's name, e.g. `genome` (set as `--genome`)")
    type: str = Field(description="JSON Schema type: `string`, `integer`, `number`, `boolean`")
    description: str = Field(description="one line for a form label or tooltip")
    help_text: str = Field(description="longer help (Markdown)")
    # Absent (not null) when the schema gives no default: the route answers without unset keys.
    default: Any = Field(default=None, description="the schema's default; absent when it has none")
    enum: list[str] = Field(description="the allowed values, as text; empty = any")
    required: bool = Field(description="true when a run must set it")
    pattern: str = Field(description="a regular expression the value must match; empty = any")
    hidden: bool = Field(description="true when nf-core hides it from forms by default")
    platform_managed: bool = Field(description="filled by the platform (`input`, `outdir`), never asked from the user")


class ParamGroup(ResponseModel):
    name: str = Field(description="the group's key in the schema's `definitions`, e.g. `input_output_options`")
    title: str = Field(description="the group's title, e.g. `Input/output options`")
    description: str
    params: list[Param] = Field(description="the group's params, in schema order")


class SamplesheetColumn(ResponseModel):
    name: str = Field(description="the column's header, e.g. `fastq_1`")
    required: bool = Field(description="true when every row must fill it")
    type: str = Field(description="JSON Schema type of a cell")
    pattern: str = Field(description="a regular expression a cell must match; empty = any")
    description: str
    error_message: str = Field(description="the pipeline's message for a cell that does not match")
    unique: bool = Field(description="true when no two rows may share a value")


class PipelineSchema(ResponseModel):
    """The params and samplesheet schemas of one pipeline version."""

    name: str = Field(description="the pipeline's registry name")
    version: str = Field(description="the version these schemas belong to")
    param_groups: list[ParamGroup] = Field(description="the params, by group, in schema order")
    samplesheet_columns: list[SamplesheetColumn] = Field(description="the samplesheet's columns, in schema order")
    params_schema: dict[str, Any] = Field(description="`nextflow_schema.json` as shipped, for clients with own forms")
    samplesheet_schema: dict[str, Any] = Field(description="`assets/schema_input.json` as shipped")
