"""A catalog pipeline's ``manifest.yaml``: what the pipeline is, its versions, and the platform's rules for it.

One pydantic model checks a manifest; unknown keys are refused (a typo must not pass silently).
:func:`read_manifest` reads one file and reports each problem as ``<file>: <field>: what`` for the
catalog's ``CatalogError``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from arc_core.contracts.names import PIPELINE_NAME_RE, SEMVER_RE
from arc_core.contracts.platform_params import VALUE_KINDS as PLATFORM_VALUE_KINDS
from services.pipelines.config_render import RESOURCE_CAPS_KINDS

URL_PATTERN = r"^https?://\S+$"


def _one_of(kinds: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in kinds:
            raise ValueError(f"must be one of {', '.join(kinds)}")
        return value

    return AfterValidator(check)


def _semver(value: str) -> str:
    if not SEMVER_RE.match(value):
        raise ValueError("is not a semantic version (e.g. 2.7.1)")
    return value


def _pipeline_name(value: str) -> str:
    if not PIPELINE_NAME_RE.match(value):
        raise ValueError("must be owner/name in lower case, e.g. nf-core/scrnaseq")
    return value


SemVer = Annotated[str, AfterValidator(_semver)]
NonEmpty = Annotated[str, Field(min_length=1)]
Url = Annotated[str, Field(pattern=URL_PATTERN)]
# How the platform's resource maxima reach a pipeline's tasks:
#   "params":          the pipeline caps requests itself through params.max_cpus / max_memory / max_time
#                      (nf-core template before 3.0, e.g. scrnaseq 2.5.1-2.7.1);
#   "resource_limits": Nextflow's own ``process.resourceLimits`` (Nextflow >= 24.04).
ResourceCaps = Annotated[str, _one_of(RESOURCE_CAPS_KINDS)]
PlatformValue = Annotated[str, _one_of(PLATFORM_VALUE_KINDS)]


class _Strict(BaseModel):
    # strict: YAML's types are taken as written (no "yes" for a boolean, no 1 for a string).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ManifestVersion(_Strict):
    """One entry of ``versions`` (a bare string is short for ``{version: ...}``)."""

    version: SemVer
    released: str = ""
    notes: str = ""
    resource_caps: ResourceCaps | None = None  # overrides the manifest's for this version


class SamplesheetRules(_Strict):
    """The manifest's rules about samples, on top of the version's ``schema_input.json``."""

    sample_column: NonEmpty
    # False: rows sharing a sample are runs (lanes) of one sample, merged by the pipeline.
    unique_samples: bool = False
    paired_reads: Annotated[list[NonEmpty], Field(min_length=2, max_length=2)] | None = None  # (read 1, read 2)


class Manifest(_Strict):
    """A pipeline's ``manifest.yaml``."""

    name: Annotated[str, AfterValidator(_pipeline_name)]
    display_name: NonEmpty
    description: str
    repository: Url
    homepage: Url = ""
    default_version: SemVer
    versions: Annotated[list[ManifestVersion], Field(min_length=1)]
    # Param name -> what the platform fills it with ("samplesheet" | "results"); users never set them.
    platform_params: dict[str, PlatformValue] = Field(default_factory=dict)
    unknown_params: Literal["reject", "ignore"] = "reject"
    # Params users may not set (names or fnmatch patterns) -> why, e.g. those that load remote config.
    forbidden_params: dict[str, NonEmpty] = Field(default_factory=dict)
    # Params the pipeline reads as files although its schema gives them no path ``format``: their values
    # are checked like every path (allowed locations, existence). Name -> "file" | "directory" | "path".
    path_params: dict[str, Literal["file", "directory", "path"]] = Field(default_factory=dict)
    resource_caps: ResourceCaps = "resource_limits"
    samplesheet: SamplesheetRules = SamplesheetRules(sample_column="sample")

    @field_validator("versions", mode="before")
    @classmethod
    def _bare_versions(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"version": v} if isinstance(v, str) else v for v in value]
        return value


def read_manifest(path: Path, problems: list[str]) -> Manifest | None:
    """The manifest in ``path``, or None with every problem appended to ``problems``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return None
    try:
        return Manifest.model_validate(_stringify_dates(raw))
    except ValidationError as exc:
        problems.extend(f"{path}: {where}: {what}" for where, what in _describe(exc))
        return None


def _describe(exc: ValidationError) -> list[tuple[str, str]]:
    """Each error as (dotted field, what is wrong), in field order."""
    found = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        what = err["msg"].removeprefix("Value error, ")
        if err["type"] not in ("missing", "extra_forbidden"):
            what += f" (got {_short(err['input'])})"
        found.append((where, what))
    return sorted(found, key=lambda e: e[0])


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _stringify_dates(node: Any) -> Any:
    """YAML reads ``2024-08-13`` as a date; the manifest wants strings."""
    if isinstance(node, dict):
        return {k: _stringify_dates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_stringify_dates(v) for v in node]
    if isinstance(node, dt.date):
        return node.isoformat()
    return node
