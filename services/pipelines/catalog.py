"""The pipeline catalog: pipelines described by files, one folder per pipeline.

Layout (``DEFAULT_CATALOG_DIR`` unless another directory is given)::

    <catalog>/<slug>/manifest.yaml
    <catalog>/<slug>/versions/<version>/nextflow_schema.json   (nf-core parameter schema)
    <catalog>/<slug>/versions/<version>/schema_input.json      (nf-core samplesheet schema)

Adding a pipeline or a version is adding files. Everything is read and checked once by
``Catalog.load``; a broken catalog fails loudly at start-up (``CatalogError`` lists every problem)
rather than on the first request.

This module is the loader and the lookups; the manifest's model is ``manifest.py``, what the catalog holds
``models.py``, and the reading of nf-core's schema files ``nf_schema.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jsonschema
from jsonschema.validators import validator_for

from arc_core.errors import FieldViolation, InvalidArgument, NotFound
from services.pipelines.config_render import CAP_PARAMS
from services.pipelines.manifest import Manifest, read_manifest
from services.pipelines.models import Pipeline, PipelineVersionSchema, VersionInfo
from services.pipelines.nf_schema import (
    build_params_schema,
    param_groups,
    read_json_schema,
    required_any_of,
    samplesheet_spec,
)
from services.pipelines.semver import is_semver, semver_key

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
MANIFEST_FILE = "manifest.yaml"
PARAMS_SCHEMA_FILE = "nextflow_schema.json"
SAMPLESHEET_SCHEMA_FILE = "schema_input.json"


class CatalogError(Exception):
    """The catalog directory is broken; ``problems`` lists every problem found (file: what)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid pipeline catalog:\n  - " + "\n  - ".join(self.problems))


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
    manifest = read_manifest(manifest_path, problems)
    if manifest is None:
        return None

    names = [v.version for v in manifest.versions]
    dupes = sorted({v for v in names if names.count(v) > 1})
    if dupes:
        problems.append(f"{manifest_path}: versions listed twice: {', '.join(dupes)}")
    default = manifest.default_version
    if default not in names:
        problems.append(f"{manifest_path}: default_version {default} is not in versions")
    versions_dir = folder / "versions"
    on_disk = {p.name for p in versions_dir.iterdir() if p.is_dir()} if versions_dir.is_dir() else set()
    for orphan in sorted(on_disk - set(names)):
        problems.append(f"{versions_dir / orphan}: version folder not listed in {MANIFEST_FILE}")

    ordered = sorted(manifest.versions, key=lambda v: semver_key(v.version), reverse=True)
    pipeline = Pipeline(
        name=manifest.name,
        display_name=manifest.display_name,
        description=" ".join(manifest.description.split()),
        repository_url=manifest.repository,
        homepage=manifest.homepage,
        default_version=default,
        versions=tuple(VersionInfo(v.version, v.released, v.notes, v.version == default) for v in ordered),
        platform_params=dict(manifest.platform_params),
        forbidden_params=dict(manifest.forbidden_params),
        path_params=dict(manifest.path_params),
    )
    caps_by_version = {v.version: v.resource_caps for v in manifest.versions}
    schemas: dict[str, PipelineVersionSchema] = {}
    for info in pipeline.versions:
        schema = _load_version(
            versions_dir / info.version,
            pipeline=pipeline,
            info=info,
            manifest=manifest,
            resource_caps=caps_by_version.get(info.version) or manifest.resource_caps,
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
    manifest: Manifest,
    resource_caps: str,
    problems: list[str],
) -> PipelineVersionSchema | None:
    before = len(problems)
    params_raw = read_json_schema(folder / PARAMS_SCHEMA_FILE, "object", problems)
    sheet_raw = read_json_schema(folder / SAMPLESHEET_SCHEMA_FILE, "array", problems)
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
    rules = manifest.samplesheet
    spec = samplesheet_spec(
        folder / SAMPLESHEET_SCHEMA_FILE,
        sheet_raw,
        problems,
        sample_column=rules.sample_column,
        unique_samples=rules.unique_samples,
        paired_reads=rules.paired_reads,
    )
    if spec is None or len(problems) > before:
        return None
    return PipelineVersionSchema(
        pipeline=pipeline.name,
        version=info.version,
        is_default=info.is_default,
        param_groups=param_groups(params_raw, combined, platform),
        required_any_of=required_any_of(combined),
        platform_params=platform,
        forbidden_params=pipeline.forbidden_params,
        path_params=pipeline.path_params,
        unknown_params=manifest.unknown_params,
        samplesheet=spec,
        params_schema=params_raw,
        samplesheet_schema=sheet_raw,
        params_validator=validator,
        resource_caps=resource_caps,
    )
