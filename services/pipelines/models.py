"""What the catalog holds: pipelines, their versions, and each version's params and samplesheet.

Plain frozen dataclasses, built once by the loader (``catalog.py``) and read by validation, config
rendering and the gRPC face.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VersionInfo:
    """One released version of a pipeline."""

    version: str
    released: str = ""
    notes: str = ""
    is_default: bool = False


@dataclass(frozen=True)
class Pipeline:
    """A catalog entry: what a user can run (GetPipeline / ListPipelines)."""

    name: str
    display_name: str
    description: str
    repository_url: str
    homepage: str
    default_version: str
    versions: tuple[VersionInfo, ...]  # newest first
    platform_params: Mapping[str, str]  # param name -> what fills it ("samplesheet" | "results")
    forbidden_params: Mapping[str, str] = field(default_factory=dict)  # name or pattern -> why
    path_params: Mapping[str, str] = field(default_factory=dict)  # name -> kind, for paths without ``format``

    @property
    def version_names(self) -> tuple[str, ...]:
        """The version strings, newest first."""
        return tuple(v.version for v in self.versions)

    @property
    def repository(self) -> str:
        """The manifest's ``repository`` (same as ``repository_url``)."""
        return self.repository_url


@dataclass(frozen=True)
class ParamSpec:
    """One pipeline parameter as the nf-core schema describes it."""

    name: str
    type: str  # "string" | "integer" | "number" | "boolean" | "object" | "array" | "" (untyped)
    description: str = ""
    help_text: str = ""
    default: Any = None  # a JSON value, None when the schema gives no default
    enum: tuple[Any, ...] = ()
    pattern: str = ""
    format: str = ""
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    hidden: bool = False
    fa_icon: str = ""
    platform_managed: bool = False  # filled by the platform (``input``, ``outdir``); never asked from the user


@dataclass(frozen=True)
class ParamGroup:
    """A group of params (an nf-core ``definitions`` entry), in schema order."""

    id: str  # the definitions key, e.g. "input_output_options"
    title: str
    description: str
    help_text: str
    fa_icon: str
    params: tuple[ParamSpec, ...]


@dataclass(frozen=True)
class SamplesheetColumn:
    """One samplesheet column and its rules, from ``schema_input.json``."""

    name: str
    required: bool
    type: str  # "string" | "integer" | "number" | "boolean"
    description: str = ""
    pattern: str = ""
    error_message: str = ""  # nf-validation ``errorMessage``: shown instead of the generic message
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    format: str = ""
    unique: bool = False  # ``unique: true`` (or the manifest's unique_samples): no two rows share a value
    unique_with: tuple[str, ...] = ()  # nf-validation ``unique: [cols]``: (this, *cols) unique together
    meta: tuple[str, ...] = ()
    schema: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class SamplesheetSpec:
    """The samplesheet a pipeline version accepts, plus the manifest's rules about samples."""

    columns: tuple[SamplesheetColumn, ...]
    sample_column: str
    # False: rows sharing a sample are runs (lanes) of one sample, merged by the pipeline.
    unique_samples: bool
    paired_reads: tuple[str, str] | None  # (read 1 column, read 2 column)
    schema: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def column(self, name: str) -> SamplesheetColumn | None:
        """The column called ``name``, or None."""
        for col in self.columns:
            if col.name == name:
                return col
        return None

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Names of the columns every samplesheet must have."""
        return tuple(c.name for c in self.columns if c.required)


@dataclass(frozen=True, eq=False)
class PipelineVersionSchema:
    """Everything needed to show, validate and run one version of a pipeline (GetPipelineSchema)."""

    pipeline: str
    version: str
    is_default: bool
    param_groups: tuple[ParamGroup, ...]  # every param; platform ones have ``platform_managed=True``
    # Alternatives of which one must be given, e.g. ((("genome",), ("fasta", "gtf")),) from an ``anyOf``.
    required_any_of: tuple[tuple[tuple[str, ...], ...], ...]
    platform_params: Mapping[str, str]
    unknown_params: str  # "reject" | "ignore"
    samplesheet: SamplesheetSpec
    params_schema: Mapping[str, Any] = field(repr=False)  # nextflow_schema.json as shipped
    samplesheet_schema: Mapping[str, Any] = field(repr=False)  # schema_input.json as shipped
    # One JSON schema for the params object (groups merged, platform params not required), compiled.
    params_validator: Any = field(repr=False, default=None)
    resource_caps: str = "resource_limits"  # one of RESOURCE_CAPS_KINDS
    forbidden_params: Mapping[str, str] = field(default_factory=dict)  # name or fnmatch pattern -> why
    path_params: Mapping[str, str] = field(default_factory=dict)  # the manifest's: name -> kind

    def forbidden_reason(self, name: str) -> str | None:
        """Why a user may not set ``name``, or None when they may."""
        return next((why for pattern, why in self.forbidden_params.items() if fnmatch.fnmatchcase(name, pattern)), None)

    @property
    def params(self) -> tuple[ParamSpec, ...]:
        """All params, in schema order (platform-managed ones included)."""
        return tuple(p for g in self.param_groups for p in g.params)

    @property
    def user_params(self) -> tuple[ParamSpec, ...]:
        """The params a user may set, in schema order."""
        return tuple(p for p in self.params if not p.platform_managed)

    def param(self, name: str) -> ParamSpec | None:
        """The param called ``name``, or None."""
        for group in self.param_groups:
            for p in group.params:
                if p.name == name:
                    return p
        return None

    @property
    def known_param_names(self) -> frozenset[str]:
        """Every param the schema declares, platform params included."""
        return frozenset(self.params_validator.schema.get("properties", {}))
