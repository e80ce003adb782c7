"""Bodies of the Benchling warehouse's routes (``gateway.routers.benchling``)."""

from __future__ import annotations

from pydantic import Field

from gateway.models.common import NextPageToken, ResponseModel, Timestamp


class NgsRun(ResponseModel):
    id: str = Field(description="the warehouse id of the run")
    name: str = Field(description="the run's name", examples=["NGS-2024-001"])
    project: str = Field(description="the project's name (its id when it has none)")
    instrument: str = Field(description="the sequencer's name (its id when it has none)")
    run_date: Timestamp | None = Field(description="when the run was sequenced; null when the warehouse has no date")
    created_at: Timestamp | None = Field(description="when the run was entered in the warehouse")
    sample_count: int = Field(description="samples of the run in the warehouse")


class NgsRunPage(ResponseModel):
    ngs_runs: list[NgsRun] = Field(description="non-archived NGS runs, newest first")
    next_page_token: NextPageToken


class NgsSample(ResponseModel):
    id: str = Field(description="the warehouse id of the sample")
    name: str = Field(description="the sample's name (the samplesheet's `sample`)")
    ngs_run: str = Field(description="the warehouse id of the NGS run it belongs to")
    fastq_1: str = Field(description="URI or path of the first reads file (R1)")
    fastq_2: str = Field(description="URI or path of the second reads file (R2); empty for single-end reads")
    metadata: dict[str, str] = Field(description="other warehouse columns the mapping exposes")


class NgsRunSamples(ResponseModel):
    samples: list[NgsSample] = Field(description="the run's non-archived samples")


class Facet(ResponseModel):
    name: str = Field(description="the metadata column, e.g. `sample_type`")
    values: list[str] = Field(description="its distinct values")


class BenchlingMetadata(ResponseModel):
    """The warehouse's filter facets."""

    projects: list[str] = Field(description="project names, sorted")
    instruments: list[str] = Field(description="instrument names, sorted")
    facets: list[Facet] = Field(description="the values of each metadata column the mapping exposes")


class BuiltSamplesheet(ResponseModel):
    """A validated samplesheet, ready for ``POST /api/runs``."""

    samplesheet_csv: str = Field(description="the samplesheet as CSV with a header row, in the pipeline's columns")
    sample_count: int = Field(description="distinct samples in it")
    source_ngs_runs: list[str] = Field(description="the NGS runs as given (name or id), without repeats")
    source_project: str | None = Field(description="the runs' project when they all share one; null otherwise")
    omitted_columns: list[str] = Field(
        description="optional columns left out because the pipeline rejects their warehouse values"
    )
