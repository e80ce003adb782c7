"""The pipeline catalog: pipelines described by files, one folder per pipeline.

Layout (``DEFAULT_CATALOG_DIR`` unless another directory is given)::

    <catalog>/<slug>/manifest.yaml
    <catalog>/<slug>/versions/<version>/nextflow_schema.json   (nf-core parameter schema)
    <catalog>/<slug>/versions/<version>/schema_input.json      (nf-core samplesheet schema)

Adding a pipeline or a version is adding files. Everything is read and checked once by
``Catalog.load``; a broken catalog fails loudly at start-up (``CatalogError`` lists every problem)
rather than on the first request.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.validators import validator_for

from arc_core.contracts.names import PIPELINE_NAME_RE, SEMVER_RE
from arc_core.contracts.platform_params import VALUE_KINDS as PLATFORM_VALUE_KINDS
from arc_core.errors import FieldViolation, InvalidArgument, NotFound
from services.pipelines.config_render import RESOURCE_CAPS_KINDS

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
MANIFEST_FILE = "manifest.yaml"
PARAMS_SCHEMA_FILE = "nextflow_schema.json"
SAMPLESHEET_SCHEMA_FILE = "schema_input.json"

# How the platform's resource maxima reach a pipeline's tasks (manifest ``resource_caps``):
#   "params":          the pipeline caps requests itself through params.max_cpus / max_memory / max_time
#                      (nf-core template before 3.0, e.g. scrnaseq 2.5.1-2.7.1);
#   "resource_limits": Nextflow's own ``process.resourceLimits`` (Nextflow >= 24.04).
CAP_PARAMS = ("max_cpus", "max_memory", "max_time")

# Keywords of a parameter group that constrain the params object as a whole (kept when groups are merged).
_GROUP_CONSTRAINT_KEYWORDS = (
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
)

_MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "display_name", "description", "repository", "default_version", "versions"],
    "properties": {
        "name": {"type": "string", "pattern": PIPELINE_NAME_RE.pattern},
        "display_name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "repository": {"type": "string", "pattern": r"^https?://\S+$"},
        "homepage": {"type": "string", "pattern": r"^https?://\S+$"},
        "default_version": {"type": "string", "pattern": SEMVER_RE.pattern},
        "versions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"type": "string", "pattern": SEMVER_RE.pattern},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["version"],
                        "properties": {
                            "version": {"type": "string", "pattern": SEMVER_RE.pattern},
                            "released": {"type": "string"},
                            "notes": {"type": "string"},
                            "resource_caps": {"enum": list(RESOURCE_CAPS_KINDS)},
                        },
                    },
                ]
            },
        },
        "platform_params": {
            "type": "object",
            "additionalProperties": {"enum": list(PLATFORM_VALUE_KINDS)},
        },
        "unknown_params": {"enum": ["reject", "ignore"]},
        # Params users may not set (names or fnmatch patterns), e.g. those that load remote config.
        "forbidden_params": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
        },
        # Params the pipeline reads as files although its schema gives them no path ``format``: their values
        # are checked like every path (allowed locations, existence). Name -> "file" | "directory" | "path".
        "path_params": {
            "type": "object",
            "additionalProperties": {"enum": ["file", "directory", "path"]},
        },
        "resource_caps": {"enum": list(RESOURCE_CAPS_KINDS)},
        "samplesheet": {
            "type": "object",
            "additionalProperties": False,
            "required": ["sample_column"],
            "properties": {
                "sample_column": {"type": "string", "minLength": 1},
                "unique_samples": {"type": "boolean"},
                "paired_reads": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        },
    },
}


class CatalogError(Exception):
    """The catalog directory is broken; ``problems`` lists every problem found (file: what)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid pipeline catalog:\n  - " + "\n  - ".join(self.problems))


def is_semver(version: str) -> bool:
    """True when ``version`` is a semantic version (``MAJOR.MINOR.PATCH[-pre][+build]``)."""
    return bool(SEMVER_RE.match(version))


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key ordering semantic versions by precedence (a pre-release sorts before its release)."""
    m = SEMVER_RE.match(version)
    if not m:
        raise ValueError(f"not a semantic version: {version!r}")
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


# --------------------------------------------------------------------------------------------- models


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


# --------------------------------------------------------------------------------------------- loading


@dataclass
class _Entry:
    pipeline: Pipeline
    schemas: dict[str, PipelineVersionSchema]


class Catalog:
    """The loaded catalog. Read-only and safe to share between threads."""

    def __init__(self, entries: Mapping[str, _Entry], directory: Path) -> None:
        self._entries = dict(entries)
        self.directory = directory

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Catalog:
        """Read and check every pipeline under ``directory`` (default ``DEFAULT_CATALOG_DIR``)."""
        root = Path(directory) if directory is not None else DEFAULT_CATALOG_DIR
        problems: list[str] = []
        entries: dict[str, _Entry] = {}
        if not root.is_dir():
            raise CatalogError([f"{root}: not a directory"])
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            entry = _load_pipeline(folder, problems)
            if entry is None:
                continue
            key = entry.pipeline.name
            if key in entries:
                problems.append(f"{folder}: pipeline {key} is also defined in another folder")
                continue
            entries[key] = entry
        if problems:
            raise CatalogError(problems)
        return cls(entries, root)

    def list_pipelines(self) -> list[Pipeline]:
        """Every pipeline, sorted by name."""
        return [self._entries[k].pipeline for k in sorted(self._entries)]

    def get(self, name: str) -> Pipeline:
        """The pipeline called ``name`` (case-insensitive); NotFound lists the pipelines that exist."""
        return self._entry(name).pipeline

    def resolve_version(self, name: str, version: str | None = None) -> str:
        """``version``, or the default version when it is empty; NotFound/InvalidArgument otherwise."""
        return self._schema(name, version).version

    def schema(self, name: str, version: str | None = None) -> PipelineVersionSchema:
        """The schema of ``name`` at ``version`` ('' or None: the default version).

        Raises NotFound (unknown pipeline, or unknown version: the message and metadata list the versions
        that exist) or InvalidArgument (``version`` is not a semantic version).
        """
        return self._schema(name, version)

    def _entry(self, name: str) -> _Entry:
        key = (name or "").strip().lower()
        entry = self._entries.get(key)
        if entry is None:
            available = ", ".join(sorted(self._entries))
            raise NotFound(
                f"pipeline {name!r} not found; available pipelines: {available}",
                reason="PIPELINE_NOT_FOUND",
                metadata={"pipeline": name, "available_pipelines": available},
            )
        return entry

    def _schema(self, name: str, version: str | None) -> PipelineVersionSchema:
        entry = self._entry(name)
        pipeline = entry.pipeline
        wanted = (version or "").strip() or pipeline.default_version
        if not is_semver(wanted):
            raise InvalidArgument(
                f"pipeline version {wanted!r} is not a semantic version",
                [FieldViolation("pipeline_version", f"{wanted!r} is not a semantic version (e.g. 2.7.1)")],
            )
        found = entry.schemas.get(wanted)
        if found is None:
            available = ", ".join(pipeline.version_names)
            raise NotFound(
                f"{pipeline.name} has no version {wanted}; available versions: {available}",
                reason="PIPELINE_VERSION_NOT_FOUND",
                metadata={"pipeline": pipeline.name, "version": wanted, "available_versions": available},
            )
        return found


def _load_pipeline(folder: Path, problems: list[str]) -> _Entry | None:
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        problems.append(f"{folder}: no {MANIFEST_FILE}")
        return None
    try:
        manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{manifest_path}: cannot be read: {exc}")
        return None
    manifest = _stringify_dates(manifest)
    errors = sorted(jsonschema.Draft202012Validator(_MANIFEST_SCHEMA).iter_errors(manifest), key=lambda e: list(e.path))
    if errors:
        for err in errors:
            where = ".".join(str(p) for p in err.path) or "(top)"
            problems.append(f"{manifest_path}: {where}: {err.message}")
        return None

    raw_versions = [v if isinstance(v, dict) else {"version": v} for v in manifest["versions"]]
    names = [v["version"] for v in raw_versions]
    dupes = sorted({v for v in names if names.count(v) > 1})
    if dupes:
        problems.append(f"{manifest_path}: versions listed twice: {', '.join(dupes)}")
    default = manifest["default_version"]
    if default not in names:
        problems.append(f"{manifest_path}: default_version {default} is not in versions")
    versions_dir = folder / "versions"
    on_disk = {p.name for p in versions_dir.iterdir() if p.is_dir()} if versions_dir.is_dir() else set()
    for orphan in sorted(on_disk - set(names)):
        problems.append(f"{versions_dir / orphan}: version folder not listed in {MANIFEST_FILE}")

    ordered = sorted(raw_versions, key=lambda v: semver_key(v["version"]), reverse=True)
    platform = dict(manifest.get("platform_params") or {})
    pipeline = Pipeline(
        name=manifest["name"],
        display_name=manifest["display_name"],
        description=" ".join(manifest["description"].split()),
        repository_url=manifest["repository"],
        homepage=manifest.get("homepage", ""),
        default_version=default,
        versions=tuple(
            VersionInfo(v["version"], v.get("released", ""), v.get("notes", ""), v["version"] == default)
            for v in ordered
        ),
        platform_params=platform,
        forbidden_params=dict(manifest.get("forbidden_params") or {}),
        path_params=dict(manifest.get("path_params") or {}),
    )
    sheet_cfg = manifest.get("samplesheet") or {"sample_column": "sample"}
    caps_by_version = {v["version"]: v.get("resource_caps", "") for v in raw_versions}
    schemas: dict[str, PipelineVersionSchema] = {}
    for info in pipeline.versions:
        schema = _load_version(
            versions_dir / info.version,
            pipeline=pipeline,
            info=info,
            unknown_params=manifest.get("unknown_params", "reject"),
            resource_caps=caps_by_version.get(info.version) or manifest.get("resource_caps", "resource_limits"),
            sheet_cfg=sheet_cfg,
            problems=problems,
        )
        if schema is not None:
            schemas[info.version] = schema
    return _Entry(pipeline, schemas)


def _load_version(
    folder: Path,
    *,
    pipeline: Pipeline,
    info: VersionInfo,
    unknown_params: str,
    resource_caps: str,
    sheet_cfg: Mapping[str, Any],
    problems: list[str],
) -> PipelineVersionSchema | None:
    before = len(problems)
    params_raw = _read_json_schema(folder / PARAMS_SCHEMA_FILE, "object", problems)
    sheet_raw = _read_json_schema(folder / SAMPLESHEET_SCHEMA_FILE, "array", problems)
    if params_raw is None or sheet_raw is None:
        return None
    platform = dict(pipeline.platform_params)
    combined = build_params_schema(params_raw, platform)
    props = combined["properties"]
    for name in platform:
        if name not in props:
            problems.append(f"{folder / PARAMS_SCHEMA_FILE}: platform param {name!r} is not in the schema")
    try:
        validator = validator_for(params_raw)(combined)
    except jsonschema.SchemaError as exc:  # pragma: no cover - the raw schema was checked already
        problems.append(f"{folder / PARAMS_SCHEMA_FILE}: {exc.message}")
        return None
    if resource_caps == "params":
        for name in CAP_PARAMS:
            if name not in props:
                problems.append(f"{folder / PARAMS_SCHEMA_FILE}: resource_caps is 'params' but {name!r} is not a param")
    spec = _samplesheet_spec(folder / SAMPLESHEET_SCHEMA_FILE, sheet_raw, sheet_cfg, problems)
    if spec is None or len(problems) > before:
        return None
    return PipelineVersionSchema(
        pipeline=pipeline.name,
        version=info.version,
        is_default=info.is_default,
        param_groups=_param_groups(params_raw, combined, platform),
        required_any_of=_required_any_of(combined),
        platform_params=platform,
        forbidden_params=pipeline.forbidden_params,
        path_params=pipeline.path_params,
        unknown_params=unknown_params,
        samplesheet=spec,
        params_schema=params_raw,
        samplesheet_schema=sheet_raw,
        params_validator=validator,
        resource_caps=resource_caps,
    )


def _read_json_schema(path: Path, top_type: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path}: missing")
        return None
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: not valid JSON: {exc}")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{path}: not a JSON object")
        return None
    cls = validator_for(raw, default=None) if "$schema" in raw else None
    if cls is None:
        problems.append(f"{path}: $schema must name a JSON Schema draft (got {raw.get('$schema')!r})")
        return None
    try:
        cls.check_schema(raw)
    except jsonschema.SchemaError as exc:
        problems.append(f"{path}: not a valid JSON schema: {exc.message}")
        return None
    if raw.get("type") != top_type:
        problems.append(f"{path}: top-level type must be {top_type!r}")
        return None
    return raw


def _definitions(raw: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The definitions keyword used (``definitions`` draft-07, ``$defs`` 2019-09+) and its content."""
    for key in ("$defs", "definitions"):
        if isinstance(raw.get(key), dict):
            return key, raw[key]
    return "definitions", {}


def _group_order(raw: Mapping[str, Any]) -> list[str]:
    """Definition names in the order the top-level ``allOf`` references them, then any others."""
    _, defs = _definitions(raw)
    order: list[str] = []
    for item in raw.get("allOf", []):
        ref = item.get("$ref", "") if isinstance(item, dict) else ""
        name = ref.rsplit("/", 1)[-1] if ref.startswith(("#/definitions/", "#/$defs/")) else ""
        if name in defs and name not in order:
            order.append(name)
    order += [n for n in defs if n not in order]
    return order


def build_params_schema(raw: Mapping[str, Any], platform_params: Iterable[str] = ()) -> dict[str, Any]:
    """One flat JSON schema for the params object from an nf-core ``nextflow_schema.json``.

    The groups' ``properties`` and ``required`` are merged (equivalent to the ``allOf`` of ``$ref``s);
    group-level constraints such as ``anyOf`` are kept under ``allOf``. Platform-filled params are removed
    from every ``required`` list, since the user never gives them.
    """
    platform = set(platform_params)
    def_key, defs = _definitions(raw)
    properties: dict[str, Any] = {}
    required: list[str] = []
    constraints: list[dict[str, Any]] = []

    def take(part: Mapping[str, Any]) -> None:
        properties.update(part.get("properties") or {})
        required.extend(r for r in part.get("required", []) if r not in platform and r not in required)
        extra = {k: part[k] for k in _GROUP_CONSTRAINT_KEYWORDS if k in part and k != "allOf"}
        if extra:
            constraints.append(_drop_required(extra, platform))

    for name in _group_order(raw):
        take(defs[name])
    take(raw)
    for item in raw.get("allOf", []):
        if isinstance(item, dict) and "$ref" not in item:
            constraints.append(_drop_required(item, platform))
    combined: dict[str, Any] = {"type": "object", "properties": properties}
    if "$schema" in raw:
        combined["$schema"] = raw["$schema"]
    if required:
        combined["required"] = required
    if constraints:
        combined["allOf"] = constraints
    if defs:
        combined[def_key] = defs  # keeps any internal $ref resolvable
    return combined


def _drop_required(node: Any, platform: set[str]) -> Any:
    if isinstance(node, dict):
        out = {k: _drop_required(v, platform) for k, v in node.items()}
        if isinstance(out.get("required"), list):
            out["required"] = [r for r in out["required"] if r not in platform]
        return out
    if isinstance(node, list):
        return [_drop_required(v, platform) for v in node]
    return node


def _type_name(schema: Mapping[str, Any]) -> str:
    t = schema.get("type", "")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "")
    return t if isinstance(t, str) else ""


def _param_groups(
    raw: Mapping[str, Any], combined: Mapping[str, Any], platform: Mapping[str, str]
) -> tuple[ParamGroup, ...]:
    required = set(combined.get("required", []))
    _, defs = _definitions(raw)

    def spec(name: str, s: Mapping[str, Any]) -> ParamSpec:
        return ParamSpec(
            name=name,
            type=_type_name(s),
            description=s.get("description", ""),
            help_text=s.get("help_text", ""),
            default=s.get("default"),
            enum=tuple(s.get("enum", ())),
            pattern=s.get("pattern", ""),
            format=s.get("format", ""),
            minimum=s.get("minimum"),
            maximum=s.get("maximum"),
            required=name in required,
            hidden=bool(s.get("hidden", False)),
            fa_icon=s.get("fa_icon", ""),
            platform_managed=name in platform,
        )

    groups: list[ParamGroup] = []
    for gid in _group_order(raw):
        g = defs[gid]
        params = tuple(spec(n, s) for n, s in (g.get("properties") or {}).items())
        if params:
            groups.append(
                ParamGroup(
                    gid,
                    g.get("title", gid),
                    g.get("description", ""),
                    g.get("help_text", ""),
                    g.get("fa_icon", ""),
                    params,
                )
            )
    loose = tuple(spec(n, s) for n, s in (raw.get("properties") or {}).items())
    if loose:
        groups.append(ParamGroup("other_parameters", "Other parameters", "", "", "", loose))
    return tuple(groups)


def _required_any_of(combined: Mapping[str, Any]) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """``anyOf`` constraints made only of ``required`` lists, as tuples of alternatives."""
    found = []
    for c in combined.get("allOf", []):
        alts = c.get("anyOf") or c.get("oneOf")
        if alts and all(set(a) == {"required"} for a in alts):
            found.append(tuple(tuple(a["required"]) for a in alts))
    return tuple(found)


def _samplesheet_spec(
    path: Path, raw: Mapping[str, Any], cfg: Mapping[str, Any], problems: list[str]
) -> SamplesheetSpec | None:
    items = raw.get("items")
    if not isinstance(items, dict) or not isinstance(items.get("properties"), dict):
        problems.append(f"{path}: items must be an object schema with properties")
        return None
    required = set(items.get("required", []))
    columns: list[SamplesheetColumn] = []
    names = set(items["properties"])
    for name, s in items["properties"].items():
        col_type = _type_name(s) or "string"
        if col_type not in ("string", "integer", "number", "boolean"):
            problems.append(f"{path}: column {name!r}: type {col_type!r} is not supported in a CSV")
            continue
        regex = None
        if "pattern" in s:
            try:
                regex = re.compile(s["pattern"])
            except re.error as exc:
                problems.append(f"{path}: column {name!r}: bad pattern: {exc}")
                continue
        unique = s.get("unique", False)
        unique_with = tuple(unique) if isinstance(unique, list) else ()
        for other in unique_with:
            if other not in names:
                problems.append(f"{path}: column {name!r}: unique with unknown column {other!r}")
        meta = s.get("meta", ())
        columns.append(
            SamplesheetColumn(
                name=name,
                required=name in required,
                type=col_type,
                description=s.get("description", ""),
                pattern=s.get("pattern", ""),
                error_message=s.get("errorMessage", "") if isinstance(s.get("errorMessage"), str) else "",
                enum=tuple(s.get("enum", ())),
                minimum=s.get("minimum"),
                maximum=s.get("maximum"),
                format=s.get("format", ""),
                unique=unique is True,
                unique_with=unique_with,
                meta=tuple(meta) if isinstance(meta, list) else (meta,),
                schema=s,
                regex=regex,
            )
        )
    for name in sorted(required - names):
        problems.append(f"{path}: required column {name!r} has no properties entry")
    sample_column = cfg["sample_column"]
    if sample_column not in names:
        problems.append(f"{path}: manifest samplesheet.sample_column {sample_column!r} is not a column")
    paired = cfg.get("paired_reads")
    if paired:
        for col in paired:
            if col not in names:
                problems.append(f"{path}: manifest samplesheet.paired_reads column {col!r} is not a column")
    unique_samples = bool(cfg.get("unique_samples", False))
    if unique_samples:  # the manifest's rule shows on the column like a schema ``unique: true``
        columns = [replace(c, unique=True) if c.name == sample_column else c for c in columns]
    return SamplesheetSpec(
        columns=tuple(columns),
        sample_column=sample_column,
        unique_samples=unique_samples,
        paired_reads=(paired[0], paired[1]) if paired else None,
        schema=raw,
    )


def _stringify_dates(node: Any) -> Any:
    """YAML reads ``2024-08-13`` as a date; the manifest wants strings."""
    if isinstance(node, dict):
        return {k: _stringify_dates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_stringify_dates(v) for v in node]
    if isinstance(node, dt.date):
        return node.isoformat()
    return node
