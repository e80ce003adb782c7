"""Where a Benchling warehouse keeps NGS runs, samples, projects and instruments.

Benchling names warehouse tables after each tenant's schemas, so the tables and columns to read are
configuration: a YAML file (``mapping.default.yaml`` documents every key and matches the demo warehouse)
loaded into the frozen dataclasses below. Loading validates everything at once: unknown keys, missing
keys, wrong types and unusable identifiers are all reported in one :class:`MappingError`.

Names are used verbatim as PostgreSQL identifiers, always through :func:`quote_ident`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MAPPING_PATH = Path(__file__).with_name("mapping.default.yaml")

# PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1); refuse them instead.
MAX_IDENTIFIER_BYTES = 63

# Samplesheet keys produced for every sample; metadata keys must not reuse them.
CORE_SAMPLE_KEYS = ("sample", "fastq_1", "fastq_2", "expected_cells")

_METADATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_ident(name: str) -> str:
    """Quote ``name`` as a PostgreSQL identifier: wrap in ``"`` and double any ``"`` inside.

    Refuses an empty name and a NUL character (PostgreSQL cannot store one; a driver might cut the
    string there).
    """
    if not isinstance(name, str) or not name:
        raise ValueError("an SQL identifier must be a non-empty string")
    if "\x00" in name:
        raise ValueError("an SQL identifier must not contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_qualified(schema: str, table: str) -> str:
    """``"schema"."table"``, both parts quoted."""
    return f"{quote_ident(schema)}.{quote_ident(table)}"


class MappingError(ValueError):
    """The warehouse mapping is invalid; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"invalid Benchling warehouse mapping ({source}):\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class TableMapping:
    """A warehouse table (or view) with an id, a name and an optional archive flag."""

    table: str
    id: str = "id"
    name: str = "name"
    archived: str | None = "archived$"


@dataclass(frozen=True)
class NgsRunMapping(TableMapping):
    """NGS runs: links (text ids) to a project and an instrument, and the timestamp used for ordering."""

    project: str = "project"
    instrument: str = "instrument"
    run_date: str | None = None
    created_at: str = "created_at"


@dataclass(frozen=True)
class SampleMapping(TableMapping):
    """Samples: a link to their NGS run, FASTQ paths and metadata (samplesheet key -> column)."""

    ngs_run: str = "ngs_run"
    fastq_1: str = "fastq_r1"
    fastq_2: str | None = None
    expected_cells: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WarehouseMapping:
    """The whole mapping: schema, the four tables, and which sample metadata keys are facets."""

    schema: str
    ngs_runs: NgsRunMapping
    samples: SampleMapping
    projects: TableMapping
    instruments: TableMapping
    facets: tuple[str, ...] = ()


# key -> (required, nullable) for each section; keys absent from a section use the dataclass default.
_TABLE_KEYS: dict[str, tuple[bool, bool]] = {
    "table": (True, False),
    "id": (False, False),
    "name": (False, False),
    "archived": (False, True),
}
_SECTION_KEYS: dict[str, dict[str, tuple[bool, bool]]] = {
    "ngs_runs": {
        **_TABLE_KEYS,
        "project": (True, False),
        "instrument": (True, False),
        "run_date": (False, True),
        "created_at": (False, False),
    },
    "samples": {
        **_TABLE_KEYS,
        "ngs_run": (True, False),
        "fastq_1": (True, False),
        "fastq_2": (False, True),
        "expected_cells": (False, True),
        "metadata": (False, True),
    },
    "projects": dict(_TABLE_KEYS),
    "instruments": dict(_TABLE_KEYS),
}
_SECTION_TYPES: dict[str, type[TableMapping]] = {
    "ngs_runs": NgsRunMapping,
    "samples": SampleMapping,
    "projects": TableMapping,
    "instruments": TableMapping,
}
_TOP_KEYS = ("schema", *_SECTION_KEYS, "facets")


def _identifier_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if "\x00" in value:
        return "must not contain a NUL character"
    if len(value.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        return f"is longer than {MAX_IDENTIFIER_BYTES} bytes (PostgreSQL would truncate it)"
    return None


def _unknown(keys: Iterable[object], allowed: Sequence[str], where: str, problems: list[str]) -> None:
    for key in keys:
        if key not in allowed:
            problems.append(f"{where}{key}: unknown key (expected one of: {', '.join(allowed)})")


def _parse_metadata(value: object, problems: list[str]) -> dict[str, str]:
    where = "samples.metadata"
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a mapping of samplesheet key to column")
        return {}
    out: dict[str, str] = {}
    for key, column in value.items():
        if not isinstance(key, str) or not _METADATA_KEY.match(key):
            problems.append(f"{where}.{key}: key must match {_METADATA_KEY.pattern}")
            continue
        if key in CORE_SAMPLE_KEYS:
            problems.append(f"{where}.{key}: reserved key (already produced from the sample mapping)")
            continue
        problem = _identifier_problem(column)
        if problem:
            problems.append(f"{where}.{key}: column {problem}")
            continue
        out[key] = column
    return out


def _parse_section(name: str, value: object, problems: list[str]) -> TableMapping | None:
    spec = _SECTION_KEYS[name]
    if not isinstance(value, dict):
        problems.append(f"{name}: must be a mapping")
        return None
    _unknown(value.keys(), list(spec), f"{name}.", problems)
    kwargs: dict[str, Any] = {}
    ok = True
    for key, (required, nullable) in spec.items():
        if key not in value:
            if required:
                problems.append(f"{name}.{key}: missing required key")
                ok = False
            continue
        item = value[key]
        if key == "metadata":
            kwargs[key] = _parse_metadata(item, problems)
            continue
        if item is None:
            if not nullable:
                problems.append(f"{name}.{key}: must not be null")
                ok = False
            else:
                kwargs[key] = None
            continue
        problem = _identifier_problem(item)
        if problem:
            problems.append(f"{name}.{key}: {problem}")
            ok = False
            continue
        kwargs[key] = item
    return _SECTION_TYPES[name](**kwargs) if ok else None


def mapping_from_dict(data: object, source: str = "<dict>") -> WarehouseMapping:
    """Validate a parsed mapping document and build the dataclasses; raises :class:`MappingError`."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MappingError(source, ["the document must be a mapping"])
    _unknown(data.keys(), _TOP_KEYS, "", problems)

    schema = data.get("schema")
    if "schema" not in data:
        problems.append("schema: missing required key")
    elif (problem := _identifier_problem(schema)) is not None:
        problems.append(f"schema: {problem}")

    sections: dict[str, TableMapping | None] = {}
    for name in _SECTION_KEYS:
        if name not in data:
            problems.append(f"{name}: missing required section")
            sections[name] = None
        else:
            sections[name] = _parse_section(name, data[name], problems)

    facets_raw = data.get("facets") or []
    facets: list[str] = []
    if not isinstance(facets_raw, list):
        problems.append("facets: must be a list of sample metadata keys")
    else:
        raw_samples = data.get("samples")
        raw_metadata = raw_samples.get("metadata") if isinstance(raw_samples, dict) else None
        known = set(raw_metadata or {}) if isinstance(raw_metadata, dict | None) else None
        for i, facet in enumerate(facets_raw):
            if not isinstance(facet, str):
                problems.append(f"facets[{i}]: must be a string")
            elif known is not None and facet not in known:
                problems.append(f"facets[{i}]: {facet!r} is not a key of samples.metadata")
            elif facet in facets:
                problems.append(f"facets[{i}]: {facet!r} is listed twice")
            else:
                facets.append(facet)

    if problems:
        raise MappingError(source, problems)
    return WarehouseMapping(
        schema=schema,  # type: ignore[arg-type]
        ngs_runs=sections["ngs_runs"],  # type: ignore[arg-type]
        samples=sections["samples"],  # type: ignore[arg-type]
        projects=sections["projects"],  # type: ignore[arg-type]
        instruments=sections["instruments"],  # type: ignore[arg-type]
        facets=tuple(facets),
    )


def load_mapping(path: Path | str | None = None) -> WarehouseMapping:
    """Load and validate a mapping YAML file (the documented default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_MAPPING_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(str(path), [f"cannot read the file: {exc}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(str(path), [f"not valid YAML: {exc}"]) from exc
    return mapping_from_dict(data, source=str(path))
