"""ValidateRunInputs: params against the nf-core parameter schema, the samplesheet row by row.

Every problem is collected and reported at once as ``FieldViolation``s inside one ``InvalidArgument``.

Locations (``FieldViolation.field``):

* ``params.<name>`` for a parameter (a missing required one too, e.g. ``params.genome``);
* ``samplesheet[header].<column>`` for a problem with the header (a missing required column, a duplicate);
* ``samplesheet[row N]`` / ``samplesheet[row N].<column>`` for a data row or one of its cells, where **N
  counts data rows from 1**: the header is not counted, the first row under it is row 1, and blank rows
  count too, so for a file without multi-line quoted cells row N is on line N + 1;
* ``samplesheet`` for the file as a whole (empty, too large, no samples).

Valid inputs come back with the paths they name (:class:`InputPathRef`, the same locations as above):
params whose schema says ``format: file-path | directory-path | path`` (or ``exists``), and samplesheet
cells of file columns (``format`` in the column schema, or the manifest's read-pair columns). Whether those
paths are allowed, and whether they exist, is for the Runs service to check: it knows the caller.

Samplesheet rules follow nf-validation: columns the schema does not know are tolerated (returned in the
report, not a violation); empty cells count as absent; ``unique`` in the column schema is honoured. The
manifest adds the pipeline's own rules: whether a sample may span rows (nf-core/scrnaseq merges rows that
share a sample: lanes of one sample), and the read-pair columns (read 1 and read 2 must differ; the rows
of one sample are all paired-end or all single-end). Blank rows between data rows are violations; blank
rows at the end of the file are ignored. A UTF-8 BOM, CRLF or CR line ends and CSV quoting are accepted.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from operator import eq, itemgetter
from typing import Any

from jsonschema.validators import validator_for

from arc_core.contracts.limits import MAX_SAMPLESHEET_BYTES
from arc_core.contracts.platform_params import RESULTS, SAMPLESHEET
from arc_core.errors import FieldViolation, InvalidArgument
from services.pipelines.models import PipelineVersionSchema, SamplesheetColumn, SamplesheetSpec
from services.pipelines.script_values import RULES, value_problem, with_pipeline_pattern

# Status details travel in gRPC trailers (8 KiB default limit at clients): keep the list short.
DEFAULT_MAX_VIOLATIONS = 50

_INT_RE = re.compile(r"^[+-]?\d+$")
_BOOLS = {"true": True, "false": False}
# Column-schema keywords handled by the fast per-cell checks (or that have nothing to check in a CSV).
_FAST_KEYWORDS = frozenset(
    {
        "type",
        "pattern",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "errorMessage",
        "meta",
        "description",
        "title",
        "unique",
        "default",
        "format",
        "exists",
        "schema",
        "mimetype",
        "fa_icon",
        "help_text",
        "hidden",
        "deprecated",
        "examples",
        "$comment",
    }
)
_ROW_KEYWORDS = frozenset({"type", "properties", "required", "description", "title", "$comment"})


# nf-schema ``format`` values that name a path, and the InputPath ``kind`` each one becomes.
PATH_FORMATS = {"file-path": "file", "directory-path": "directory", "path": "path"}


@dataclass(frozen=True)
class InputPathRef:
    """A path the inputs name: where (``params.fasta``, ``samplesheet[row 2].fastq_1``), what, and its kind."""

    field: str
    uri: str
    kind: str  # "file" | "directory" | "path" (either)
    must_exist: bool


@dataclass(frozen=True)
class SamplesheetReport:
    """What ``check_samplesheet`` found."""

    sample_count: int  # distinct sample names
    row_count: int  # non-blank data rows
    samples: tuple[str, ...]  # distinct sample names, in first-seen order
    unknown_columns: tuple[str, ...]  # header columns the schema does not know (tolerated)
    violations: tuple[FieldViolation, ...]
    # Non-empty cells of file columns, in row order: (data row number, column, value).
    file_cells: tuple[tuple[int, str, str], ...] = ()


@dataclass(frozen=True)
class RunInputsReport:
    """Valid run inputs: the number of distinct samples and every path they name."""

    sample_count: int
    input_paths: tuple[InputPathRef, ...]
    # The params the platform fills (the schema's platform_params): name -> "samplesheet" | "results".
    platform_params: Mapping[str, str] = field(default_factory=dict)


def validate_run_inputs(
    pipeline_version_schema: PipelineVersionSchema,
    params: Mapping[str, Any],
    samplesheet_csv: str,
    *,
    max_violations: int = DEFAULT_MAX_VIOLATIONS,
    samplesheet_only: bool = False,
) -> RunInputsReport:
    """Validate a run's params and samplesheet; return the sample count and the paths they name.

    Raises one ``InvalidArgument`` carrying every violation (params first, then the samplesheet in row
    order), capped at ``max_violations`` with a last entry saying how many more were found.
    ``samplesheet_only`` skips the params (for a samplesheet built before the params are chosen).
    """
    violations = [] if samplesheet_only else check_params(pipeline_version_schema, params)
    report = check_samplesheet(pipeline_version_schema.samplesheet, samplesheet_csv)
    violations.extend(report.violations)
    if violations:
        total = len(violations)
        if total > max_violations:
            hidden = total - max_violations + 1
            violations = violations[: max_violations - 1]
            violations.append(FieldViolation("samplesheet", f"... and {hidden} more problems not shown"))
        raise InvalidArgument(
            f"invalid run inputs for {pipeline_version_schema.pipeline} {pipeline_version_schema.version}:"
            f" {total} problem{'s' if total != 1 else ''}",
            violations,
            reason="INVALID_RUN_INPUTS",
            metadata={"violation_count": str(total)},
        )
    paths = [] if samplesheet_only else param_input_paths(pipeline_version_schema, params)
    kinds = _samplesheet_file_kinds(pipeline_version_schema.samplesheet)
    paths.extend(
        InputPathRef(f"samplesheet[row {row_no}].{column}", value, kinds[column], True)
        for row_no, column, value in report.file_cells
    )
    return RunInputsReport(report.sample_count, tuple(paths))


def param_input_paths(schema: PipelineVersionSchema, params: Mapping[str, Any]) -> list[InputPathRef]:
    """The path params that are set (non-empty strings), in name order."""
    out: list[InputPathRef] = []
    for name, kind, must_exist in _path_params(schema):
        value = params.get(name)
        if isinstance(value, str) and value:
            out.append(InputPathRef(f"params.{name}", value, kind, must_exist))
    return out


@lru_cache(maxsize=64)
def _param_properties(schema: PipelineVersionSchema) -> dict[str, dict[str, Any]]:
    """Every param's schema, from its group (``definitions`` / ``$defs``) or the top level."""
    raw = schema.params_schema
    properties: dict[str, Any] = {}
    for defs_key in ("definitions", "$defs"):
        for group in (raw.get(defs_key) or {}).values():
            if isinstance(group, dict):
                properties.update(group.get("properties") or {})
    properties.update(raw.get("properties") or {})
    return {name: spec for name, spec in properties.items() if isinstance(spec, dict)}


@lru_cache(maxsize=64)
def _path_params(schema: PipelineVersionSchema) -> tuple[tuple[str, str, bool], ...]:
    """(name, kind, must_exist) of every user param that names a path: its schema says so (``format`` or
    ``exists``), or the manifest's ``path_params`` do (the pipeline reads it as a file; it must exist)."""
    found = []
    for name, spec in sorted(_param_properties(schema).items()):
        if name in schema.platform_params:
            continue
        fmt = str(spec.get("format") or "")
        if fmt in PATH_FORMATS or "exists" in spec:
            found.append((name, PATH_FORMATS.get(fmt, "path"), spec.get("exists") is True))
        elif name in schema.path_params:
            found.append((name, schema.path_params[name], True))
    return tuple(found)


@lru_cache(maxsize=64)
def _param_roles(schema: PipelineVersionSchema) -> dict[str, str]:
    """Which allow-list (services/pipelines/script_values.py) a param's string values must match:
    "path" for path params, "text" for other strings; params with an ``enum`` are left to it."""
    paths = {name for name, _kind, _must in _path_params(schema)}
    roles = {}
    for name, spec in _param_properties(schema).items():
        if name in paths:
            roles[name] = "path"
        elif "enum" not in spec:
            roles[name] = "text"
    return roles


def _script_value_violations(schema: PipelineVersionSchema, given: Mapping[str, Any]) -> list[FieldViolation]:
    """Params whose string values (in lists too) may not reach the pipeline's scripts as they are."""
    roles = _param_roles(schema)
    out: list[FieldViolation] = []
    for name, value in given.items():
        role = roles.get(name, "text")
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str) and (problem := value_problem(role, item)) is not None:
                out.append(FieldViolation(f"params.{name}", f"{problem} (got {_short(item)})"))
                break
    return out


def _samplesheet_file_kinds(spec: SamplesheetSpec) -> dict[str, str]:
    """Column name -> kind, for the columns that name files."""
    reads = set(spec.paired_reads or ())
    return {
        c.name: PATH_FORMATS.get(c.format, "file")
        for c in spec.columns
        if c.format in PATH_FORMATS or "exists" in c.schema or c.name in reads
    }


# ------------------------------------------------------------------------------------------------ params


def check_params(schema: PipelineVersionSchema, params: Mapping[str, Any]) -> list[FieldViolation]:
    """Every problem with ``params`` (a JSON object); an absent or ``None`` value means "not set"."""
    out: list[FieldViolation] = []
    known = schema.known_param_names
    given: dict[str, Any] = {}
    for name, value in sorted(params.items()):  # a Struct has no key order: report in a stable one
        if value is None:
            continue
        if name in schema.platform_params:
            what = {SAMPLESHEET: "the run's samplesheet", RESULTS: "the run's results folder"}.get(
                schema.platform_params[name], "the platform"
            )
            out.append(FieldViolation(f"params.{name}", f"is set by the platform ({what}); do not pass it"))
            continue
        forbidden = schema.forbidden_reason(name)
        if forbidden is not None:
            out.append(FieldViolation(f"params.{name}", f"may not be set on this platform: {forbidden}"))
            continue
        if name not in known and schema.unknown_params == "reject":
            hint = difflib.get_close_matches(name, sorted(known - set(schema.platform_params)), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            out.append(
                FieldViolation(f"params.{name}", f"unknown parameter for {schema.pipeline} {schema.version}{extra}")
            )
            continue
        given[name] = value
    errors = sorted(
        schema.params_validator.iter_errors(given),
        key=lambda e: ([str(x) for x in e.absolute_path], e.message),
    )
    for error in errors:
        out.extend(_param_violations(error))
    out.extend(_script_value_violations(schema, given))
    return out


def _param_violations(error: Any) -> list[FieldViolation]:
    path = [str(p) for p in error.absolute_path]
    base = ".".join(["params", *path])
    kind = error.validator
    if kind == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [
            FieldViolation(f"{base}.{name}", "is required") for name in error.validator_value if name not in instance
        ]
    if kind in ("anyOf", "oneOf") and all(
        isinstance(a, dict) and set(a) == {"required"} for a in error.validator_value
    ):
        alternatives = [list(a["required"]) for a in error.validator_value]
        instance = error.instance if isinstance(error.instance, dict) else {}
        text = ", or ".join(" and ".join(a) for a in alternatives)
        if any(all(n in instance for n in a) for a in alternatives):  # oneOf: more than one was given
            return [FieldViolation(base, f"give exactly one of: {text}")]
        missing = next((n for n in alternatives[0] if n not in instance), alternatives[0][0])
        verb = "exactly one of" if kind == "oneOf" else "one of"
        return [FieldViolation(f"{base}.{missing}", f"is required: give {verb}: {text}")]
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    got = _short(error.instance)
    if isinstance(custom, str):
        return [FieldViolation(base, f"{custom} (got {got})")]
    if kind == "enum":
        return [FieldViolation(base, f"must be one of: {', '.join(map(str, error.validator_value))} (got {got})")]
    if kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return [FieldViolation(base, f"must be of type {wanted} (got {got})")]
    if kind == "pattern":
        return [FieldViolation(base, f"must match the pattern {error.validator_value} (got {got})")]
    return [FieldViolation(base, error.message)]


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'" if isinstance(value, str) else text


# ------------------------------------------------------------------------------------------- samplesheet


def normalize_samplesheet(samplesheet_csv: str) -> str:
    """The samplesheet as the pipeline should get it: no BOM, LF line ends (store this one)."""
    text = samplesheet_csv[1:] if samplesheet_csv.startswith("\ufeff") else samplesheet_csv
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_samplesheet(spec: SamplesheetSpec, samplesheet_csv: str) -> SamplesheetReport:
    """Every problem with the samplesheet, plus its sample count (see the module docstring for rules)."""
    out: list[FieldViolation] = []

    files: list[tuple[int, str, str]] = []

    def report(samples: tuple[str, ...] = (), rows: int = 0, unknown: tuple[str, ...] = ()) -> SamplesheetReport:
        return SamplesheetReport(len(samples), rows, samples, unknown, tuple(out), tuple(files))

    size = len(samplesheet_csv.encode("utf-8", "surrogatepass"))
    if size > MAX_SAMPLESHEET_BYTES:
        out.append(FieldViolation("samplesheet", f"is {size} bytes; the limit is {MAX_SAMPLESHEET_BYTES} (10 MB)"))
        return report()
    text = samplesheet_csv[1:] if samplesheet_csv.startswith("\ufeff") else samplesheet_csv
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        out.append(FieldViolation("samplesheet[header]", f"cannot be parsed as CSV: {exc}"))
        return report()
    if header is None or not any(h.strip() for h in header):
        out.append(
            FieldViolation(
                "samplesheet",
                f"is empty; the first line must be a header naming the columns "
                f"({', '.join(c.name for c in spec.columns)})",
            )
        )
        return report()

    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            out.append(FieldViolation("samplesheet[header]", f"column {i + 1} has no name"))
        elif name in positions:
            out.append(FieldViolation(f"samplesheet[header].{name}", "column appears twice"))
        else:
            positions[name] = i
    if len(header) == 1 and ("\t" in header[0] or ";" in header[0]):
        out.append(FieldViolation("samplesheet[header]", "must be comma-separated (found tabs or semicolons)"))
    for col in spec.columns:
        if col.required and col.name not in positions:
            near = [h for h in header if h != col.name and h.strip().lower() == col.name]
            hint = f" (found {near[0]!r}: names are exact, without spaces)" if near else ""
            out.append(FieldViolation(f"samplesheet[header].{col.name}", f"required column is missing{hint}"))
    known = {c.name for c in spec.columns}
    unknown = tuple(h for h in header if h and h not in known)

    checker = _RowChecker(spec, positions, len(header), out, files)
    chunk: list[list[str]] = []
    row_no = 0  # rows handed to the checker so far
    try:
        for row in reader:
            chunk.append(row)
            if len(chunk) == _CHUNK_ROWS:
                checker.feed(chunk, row_no + 1)
                row_no += len(chunk)
                chunk = []
    except csv.Error as exc:
        checker.feed(chunk, row_no + 1)
        row_no += len(chunk)
        chunk = []
        out.append(FieldViolation(f"samplesheet[row {row_no + 1}]", f"cannot be parsed as CSV: {exc}"))
    if chunk:
        checker.feed(chunk, row_no + 1)
    if checker.data_rows == 0:
        out.append(FieldViolation("samplesheet", "has a header but no sample rows"))
    return report(tuple(checker.samples), checker.data_rows, unknown)


_CHUNK_ROWS = 2048


class _RowChecker:
    """Checks data rows a chunk at a time.

    A chunk first gets column-wise checks that run at C speed (``all(map(pattern.search, column))``) and
    change nothing; only if the chunk has a problem (or a rule the fast path does not cover) is it walked
    row by row to say exactly what and where. State (samples seen, unique keys) carries across chunks.
    """

    def __init__(
        self,
        spec: SamplesheetSpec,
        positions: Mapping[str, int],
        ncols: int,
        out: list[FieldViolation],
        files: list[tuple[int, str, str]] | None = None,
    ) -> None:
        self.out = out
        self.files = files if files is not None else []
        self.file_columns = [(positions[name], name) for name in _samplesheet_file_kinds(spec) if name in positions]
        self.ncols = ncols
        self.positions = positions
        file_kinds = _samplesheet_file_kinds(spec)
        self.checks = [
            _CellCheck(
                col, positions[col.name], validator_for(spec.schema), _cell_role(spec, col, file_kinds)
            ).as_tuple()
            for col in spec.columns
            if col.name in positions
        ]
        self.sample_idx = positions.get(spec.sample_column)
        self.unique_rules = _unique_rules(spec, positions)
        self.seen_unique: list[dict[tuple[str, ...], int]] = [{} for _ in self.unique_rules]
        self.r1_idx: int | None = None
        self.r2_idx: int | None = None
        self.r2_required = True
        if spec.paired_reads and all(c in positions for c in spec.paired_reads):
            self.r1_idx, self.r2_idx = positions[spec.paired_reads[0]], positions[spec.paired_reads[1]]
            r2_col = spec.column(spec.paired_reads[1])
            self.r2_required = bool(r2_col and r2_col.required)
        self.r1_name, self.r2_name = spec.paired_reads or ("", "")
        self.row_schema_check = _row_schema_check(spec)
        self.samples: dict[str, None] = {}
        self.paired_of: dict[str, tuple[bool, int]] = {}
        self.blank_rows: list[int] = []
        self.data_rows = 0
        # The fast path covers everything except these; with them every chunk is walked row by row.
        self.fast_ok = self.row_schema_check is None and (self.r1_idx is None or self.r2_required)

    def feed(self, rows: list[list[str]], first_row_no: int) -> None:
        """Check ``rows``; the first of them is data row ``first_row_no``."""
        if rows and not (self.fast_ok and self._fast(rows, first_row_no)):
            self._slow(rows, first_row_no)

    def _fast(self, rows: list[list[str]], first_row_no: int) -> bool:
        ncols = self.ncols
        lengths = set(map(len, rows))
        if lengths != {ncols} or not all(map(any, rows)):
            return False
        cols: dict[int, list[str]] = {}

        def column(i: int) -> list[str]:
            if i not in cols:
                cols[i] = list(map(itemgetter(i), rows))
            return cols[i]

        for index, _name, required, ok, _explain, _missing in self.checks:
            values = column(index)
            if required and not all(values):
                return False
            if ok is not None and not all(map(ok, filter(None, values))):
                return False
        new_keys: list[list[tuple[str, ...]]] = []
        for rule, seen in zip(self.unique_rules, self.seen_unique, strict=True):
            keys = list(zip(*(column(i) for i in rule.indexes), strict=True))
            if not all(k[0] for k in keys) or len(set(keys)) != len(keys) or not seen.keys().isdisjoint(keys):
                return False
            new_keys.append(keys)
        if self.r1_idx is not None and self.r2_idx is not None:
            if any(map(eq, column(self.r1_idx), column(self.r2_idx))):
                return False
        # Clean: record state.
        self._flush_blank_rows()
        self.data_rows += len(rows)
        for keys, seen in zip(new_keys, self.seen_unique, strict=True):
            seen.update(zip(keys, range(first_row_no, first_row_no + len(keys)), strict=True))
        if self.sample_idx is not None:
            self.samples.update(dict.fromkeys(filter(None, column(self.sample_idx))))
        if self.file_columns:
            add_file, file_columns = self.files.append, self.file_columns
            for row_no, row in enumerate(rows, start=first_row_no):
                for i, name in file_columns:
                    if row[i]:
                        add_file((row_no, name, row[i]))
        return True

    def _flush_blank_rows(self) -> None:
        for b in self.blank_rows:
            self.out.append(FieldViolation(f"samplesheet[row {b}]", "empty row"))
        self.blank_rows.clear()

    def _slow(self, rows: list[list[str]], first_row_no: int) -> None:
        add = self.out.append
        ncols, checks, samples, sample_idx = self.ncols, self.checks, self.samples, self.sample_idx
        r1_idx, r2_idx, r1_name, r2_name = self.r1_idx, self.r2_idx, self.r1_name, self.r2_name
        for row_no, row in enumerate(rows, start=first_row_no):
            if not any(row):
                self.blank_rows.append(row_no)
                continue
            self._flush_blank_rows()
            self.data_rows += 1
            n = len(row)
            if n > ncols:
                add(FieldViolation(f"samplesheet[row {row_no}]", f"has {n} fields but the header has {ncols} columns"))
            for index, name, required, ok, explain, missing in checks:
                value = row[index] if index < n else ""
                if not value:
                    if required:
                        add(FieldViolation(f"samplesheet[row {row_no}].{name}", missing))
                elif ok is not None and not ok(value):
                    problem = explain(value)
                    if problem is not None:
                        add(FieldViolation(f"samplesheet[row {row_no}].{name}", problem))
            for rule, seen in zip(self.unique_rules, self.seen_unique, strict=True):
                key = tuple(row[i] if i < n else "" for i in rule.indexes)
                if not key[0]:
                    continue
                first = seen.setdefault(key, row_no)
                if first != row_no:
                    add(FieldViolation(f"samplesheet[row {row_no}].{rule.column}", rule.message(key, first)))
            for i, name in self.file_columns:
                if i < n and row[i]:
                    self.files.append((row_no, name, row[i]))
            sample = row[sample_idx] if sample_idx is not None and sample_idx < n else ""
            if sample:
                samples.setdefault(sample, None)
            if r1_idx is not None and r2_idx is not None:
                r1 = row[r1_idx] if r1_idx < n else ""
                r2 = row[r2_idx] if r2_idx < n else ""
                if r1 and r1 == r2:
                    add(FieldViolation(f"samplesheet[row {row_no}].{r2_name}", f"is the same file as {r1_name}"))
                if sample and r1 and not self.r2_required:
                    paired = bool(r2)
                    first_paired, first_row = self.paired_of.setdefault(sample, (paired, row_no))
                    if paired != first_paired:
                        kinds = ("paired-end", "single-end")
                        add(
                            FieldViolation(
                                f"samplesheet[row {row_no}].{r2_name}",
                                f"sample {sample!r} mixes paired-end and single-end runs (row {first_row}"
                                f" is {kinds[not first_paired]}, this row is {kinds[not paired]}); the runs"
                                " of one sample must all be paired-end or all single-end",
                            )
                        )
            if self.row_schema_check is not None:
                for problem in self.row_schema_check(row, self.positions):
                    add(FieldViolation(f"samplesheet[row {row_no}]", problem))


class _CellCheck:
    """The compiled rules of one column.

    ``ok(value)`` is a cheap truthy test (often a bare ``re.Pattern.search``) run on every cell, or None
    when any non-empty value is fine; ``explain(value)`` builds the problem text, only for failing cells.
    """

    __slots__ = ("explain", "index", "missing_message", "name", "ok", "required")

    def __init__(self, col: SamplesheetColumn, index: int, draft: Any, role: str = "") -> None:
        self.name = col.name
        self.index = index
        self.required = col.required
        self.missing_message = (
            f"{col.error_message} (the cell is empty)" if col.error_message else "is required (the cell is empty)"
        )
        self.ok, self.explain = _compile_cell_check(col, draft, role)

    def as_tuple(
        self,
    ) -> tuple[int, str, bool, Callable[[str], Any] | None, Callable[[str], str | None], str]:
        """The fields in the order the row loop unpacks them."""
        return (self.index, self.name, self.required, self.ok, self.explain, self.missing_message)


def _cell_role(spec: SamplesheetSpec, col: SamplesheetColumn, file_kinds: Mapping[str, str]) -> str:
    """The allow-list of services/pipelines/script_values.py a column's cells must match ("" = none)."""
    if col.type != "string" or col.enum:
        return ""
    if col.name == spec.sample_column or "id" in col.meta:
        return "name"
    return "path" if col.name in file_kinds else "text"


def _compile_cell_check(
    col: SamplesheetColumn, draft: Any, role: str = ""
) -> tuple[Callable[[str], Any] | None, Callable[[str], str | None]]:
    s = col.schema
    custom = col.error_message
    # Cheap truthy tests that, together, are the whole check (when every step has one).
    fast_tests: list[Callable[[str], Any]] = []

    def fail(default: str, value: str) -> str:
        return f"{custom or default} (got {_short(value)})"

    steps: list[Callable[[str, Any], str | None]] = []
    convert: Callable[[str], Any] = str
    if col.type == "integer":

        def convert(v: str) -> Any:  # noqa: F811 - chosen by column type
            return int(v) if _INT_RE.match(v) else None
    elif col.type == "number":

        def convert(v: str) -> Any:  # noqa: F811
            try:
                f = float(v)
            except ValueError:
                return None
            return f if f == f and f not in (float("inf"), float("-inf")) else None
    elif col.type == "boolean":

        def convert(v: str) -> Any:  # noqa: F811
            return _BOOLS.get(v.lower())

    type_word = {"integer": "an integer", "number": "a number", "boolean": "true or false"}.get(col.type)
    regex = col.regex
    if regex is not None:
        search = regex.search
        steps.append(lambda v, _x: None if search(v) else fail(f"must match the pattern {col.pattern}", v))
        fast_tests.append(search)
    if role:
        allowed_re, _rule = RULES[role]

        def platform_rule(v: str, _x: Any) -> str | None:
            problem = value_problem(role, v)
            return None if problem is None else f"{problem} (got {_short(v)})"

        steps.append(platform_rule)
        both = with_pipeline_pattern(role, col.pattern) if regex is not None else None
        if both is not None:
            fast_tests[:] = [both.fullmatch]  # the pipeline's pattern and the platform's rule, in one call
        else:
            fast_tests.append(allowed_re.fullmatch)
    if col.enum:
        allowed = frozenset(col.enum)
        words = ", ".join(map(str, col.enum))
        steps.append(lambda v, x: None if x in allowed else fail(f"must be one of: {words}", v))
    bounds = [(k, s[k]) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in s]
    if bounds and col.type in ("integer", "number"):
        ops: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
            "minimum": (lambda x, b: x >= b, "at least"),
            "maximum": (lambda x, b: x <= b, "at most"),
            "exclusiveMinimum": (lambda x, b: x > b, "more than"),
            "exclusiveMaximum": (lambda x, b: x < b, "less than"),
        }

        def bound_step(test: Callable[[Any, Any], bool], bound: Any, word: str) -> Callable[[str, Any], str | None]:
            return lambda v, x: None if test(x, bound) else fail(f"must be {word} {bound}", v)

        for key, bound in bounds:
            test, word = ops[key]
            steps.append(bound_step(test, bound, word))
    if "minLength" in s:
        steps.append(
            lambda v, _x: None if len(v) >= s["minLength"] else fail(f"must be at least {s['minLength']} characters", v)
        )
    if "maxLength" in s:
        steps.append(
            lambda v, _x: None if len(v) <= s["maxLength"] else fail(f"must be at most {s['maxLength']} characters", v)
        )
    slow = {k: v for k, v in s.items() if k not in _FAST_KEYWORDS}
    if slow:
        validator = draft(slow)
        steps.append(lambda v, x: next((fail(e.message, v) for e in validator.iter_errors(x)), None))

    def check(value: str) -> str | None:
        converted = convert(value)
        if converted is None:
            return fail(f"must be {type_word}", value)
        for step in steps:
            problem = step(value, converted)
            if problem is not None:
                return problem
        return None

    # Fast truthy tests for the common shapes; anything else runs the full check.
    ok: Callable[[str], Any] | None
    if col.type == "string" and not steps:
        ok = None
    elif col.type == "string" and len(steps) == 1 and regex is not None:
        ok = regex.search
    elif col.type == "string" and len(steps) == len(fast_tests) == 2:
        first, second = fast_tests

        def ok(value: str) -> bool:  # noqa: F811 - the two cheap tests in one
            return bool(first(value) and second(value))
    elif col.type == "string" and len(fast_tests) == 1 and len(steps) == (2 if regex is not None and role else 1):
        ok = fast_tests[0]
    elif col.type == "string" and len(steps) == 1 and col.enum:
        ok = frozenset(col.enum).__contains__
    elif col.type == "integer" and not steps:
        ok = _INT_RE.match
    else:

        def ok(value: str) -> bool:
            return check(value) is None

    return ok, check


@dataclass(frozen=True)
class _UniqueRule:
    column: str
    indexes: tuple[int, ...]
    others: tuple[str, ...]
    sample_rule: bool

    def message(self, key: tuple[str, ...], first: int) -> str:
        if self.sample_rule:
            return f"duplicate sample {key[0]!r} (also in row {first}); this pipeline expects one row per sample"
        if self.others:
            together = ", ".join((self.column, *self.others))
            return f"({together}) must be unique; the same values are in row {first}"
        return f"must be unique; {_short(key[0])} is also in row {first}"


def _unique_rules(spec: SamplesheetSpec, positions: Mapping[str, int]) -> list[_UniqueRule]:
    rules: list[_UniqueRule] = []
    for col in spec.columns:
        if col.name not in positions:
            continue
        if col.unique:
            rules.append(_UniqueRule(col.name, (positions[col.name],), (), col.name == spec.sample_column))
        if col.unique_with and all(o in positions for o in col.unique_with):
            idx = (positions[col.name], *(positions[o] for o in col.unique_with))
            rules.append(_UniqueRule(col.name, idx, col.unique_with, False))
    return rules


def _row_schema_check(spec: SamplesheetSpec) -> Callable[[list[str], Mapping[str, int]], list[str]] | None:
    """A whole-row JSON-schema check, only when ``items`` has row-level rules (e.g. ``dependentRequired``)."""
    items = spec.schema.get("items", {})
    extra = {k: v for k, v in items.items() if k not in _ROW_KEYWORDS}
    if not extra:
        return None
    root = spec.schema
    validator = validator_for(root)(extra)
    types = {c.name: c.type for c in spec.columns}

    def check(row: list[str], positions: Mapping[str, int]) -> list[str]:
        obj: dict[str, Any] = {}
        for name, i in positions.items():
            if i < len(row) and row[i]:
                obj[name] = _coerce(row[i], types.get(name, "string"))
        return [e.message for e in validator.iter_errors(obj)]

    return check


def _coerce(value: str, col_type: str) -> Any:
    if col_type == "integer" and _INT_RE.match(value):
        return int(value)
    if col_type == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if col_type == "boolean" and value.lower() in _BOOLS:
        return _BOOLS[value.lower()]
    return value
