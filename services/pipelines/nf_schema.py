"""nf-core's schema files, flattened: ``nextflow_schema.json`` (params) and ``schema_input.json`` (samplesheet).

nf-core describes params as groups (``definitions`` referenced from a top-level ``allOf``) and a samplesheet
as an array of row objects. These functions check such files and turn them into the catalog's models: one
flat params schema a validator can compile, the groups in schema order, the ``anyOf`` alternatives, and the
samplesheet's columns with their rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

from services.pipelines.models import ParamGroup, ParamSpec, SamplesheetColumn, SamplesheetSpec

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


def read_json_schema(path: Path, top_type: str, problems: list[str]) -> dict[str, Any] | None:
    """The JSON schema in ``path`` if it is one (of a known draft, with top-level ``type`` ``top_type``).

    Otherwise the problem is appended to ``problems`` (``<path>: what``) and None returned.
    """
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
    cls = validator_for(raw, default=None) if "$schema" in raw else None  # type: ignore[arg-type]  # None: "not a draft"
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


def param_groups(
    raw: Mapping[str, Any], combined: Mapping[str, Any], platform: Mapping[str, str]
) -> tuple[ParamGroup, ...]:
    """The params of ``raw`` by group, in schema order; loose top-level params last ("Other parameters").

    ``combined`` (from :func:`build_params_schema`) says which are required; params named in ``platform``
    are marked ``platform_managed``.
    """
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


def required_any_of(combined: Mapping[str, Any]) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """``anyOf`` constraints made only of ``required`` lists, as tuples of alternatives."""
    found = []
    for c in combined.get("allOf", []):
        alts = c.get("anyOf") or c.get("oneOf")
        if alts and all(set(a) == {"required"} for a in alts):
            found.append(tuple(tuple(a["required"]) for a in alts))
    return tuple(found)


def samplesheet_spec(
    path: Path,
    raw: Mapping[str, Any],
    problems: list[str],
    *,
    sample_column: str,
    unique_samples: bool = False,
    paired_reads: Sequence[str] | None = None,
) -> SamplesheetSpec | None:
    """The samplesheet a ``schema_input.json`` describes, with the manifest's rules about samples.

    ``sample_column``, ``unique_samples`` and ``paired_reads`` are the manifest's ``samplesheet`` entry;
    each problem (an unsupported column type, a bad pattern, a manifest column the schema lacks) is
    appended to ``problems`` and None returned when the file cannot be used at all.
    """
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
    if sample_column not in names:
        problems.append(f"{path}: manifest samplesheet.sample_column {sample_column!r} is not a column")
    paired = list(paired_reads or ())
    if paired:
        for col in paired:
            if col not in names:
                problems.append(f"{path}: manifest samplesheet.paired_reads column {col!r} is not a column")
    if unique_samples:  # the manifest's rule shows on the column like a schema ``unique: true``
        columns = [replace(c, unique=True) if c.name == sample_column else c for c in columns]
    return SamplesheetSpec(
        columns=tuple(columns),
        sample_column=sample_column,
        unique_samples=unique_samples,
        paired_reads=(paired[0], paired[1]) if paired else None,
        schema=raw,
    )
