"""Parse Nextflow trace files (``trace.txt``) into typed task records.

The trace is a tab-separated file whose first line names the columns (``trace.fields`` decides which
and in what order; the default set is ``task_id hash native_id name status exit submit duration realtime
%cpu peak_rss peak_vmem rchar wchar``). Values use Nextflow's formatters:

* dates ``2024-05-01 12:00:00.123`` (JVM local time), or epoch milliseconds with ``trace.raw = true``;
* durations ``250ms``, ``12.3s``, ``2m 3s``, ``1h 2m 3s``, ``1d 2h`` (``nextflow.util.Duration``), or
  milliseconds in raw mode;
* memory ``0``, ``512 B``, ``10 MB``, ``1.5 GB`` (powers of 1024, one decimal: ``nextflow.util.MemoryUnit``),
  or bytes in raw mode;
* percentages ``85.3%``, or ``85.3`` in raw mode;
* ``-`` for a missing value.

Raw and human values are told apart by the cells themselves (no flag needed; they may even be mixed).
Parsing works column by column with C-level loops and C-memoised converters for repeated values, which
keeps a 100,000-task trace well under a second (see ``bench/bench_trace_parse.py``).

Nothing here does I/O or imports grpc. Paging is ``arc_core.paging``'s; parsed traces are cached by
``services.logs.trace_cache``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from itertools import repeat
from operator import itemgetter, truediv

NA = "-"
"""Nextflow's marker for a missing value."""

DEFAULT_FIELDS: tuple[str, ...] = (
    "task_id", "hash", "native_id", "name", "status", "exit", "submit", "duration", "realtime",
    "%cpu", "peak_rss", "peak_vmem", "rchar", "wchar",
)  # fmt: skip
"""Columns of a trace written without ``trace.fields``."""

STATUSES: tuple[str, ...] = ("NEW", "SUBMITTED", "RUNNING", "COMPLETED", "CACHED", "FAILED", "ABORTED")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MEM_UNITS = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6, "ZB": 7}
_TIME_UNITS_MS = {
    "ms": 1, "milli": 1, "millis": 1,
    "s": 1_000, "sec": 1_000, "second": 1_000, "seconds": 1_000,
    "m": 60_000, "min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000,
    "h": 3_600_000, "hour": 3_600_000, "hours": 3_600_000,
    "d": 86_400_000, "day": 86_400_000, "days": 86_400_000,
}  # fmt: skip


@dataclass(slots=True)
class TaskRecord:
    """One task (one row of the trace). Cached records (``trace_cache``) are shared: treat as read-only."""

    task_id: str
    hash: str | None = None
    native_id: str | None = None
    name: str | None = None
    process: str | None = None
    """Fully qualified process name, e.g. ``NFCORE_SCRNASEQ:SCRNASEQ:FASTQC``."""
    tag: str | None = None
    status: str | None = None
    exit: int | None = None
    submit: datetime | None = None
    start: datetime | None = None
    complete: datetime | None = None
    duration_ms: int | None = None
    realtime_ms: int | None = None
    cpu_percent: float | None = None
    peak_rss: int | None = None
    peak_vmem: int | None = None
    rchar: int | None = None
    wchar: int | None = None
    workdir: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    """Every other column, raw text as written (``-`` included)."""


# --------------------------------------------------------------------------------------------- cells


def parse_str(value: str) -> str | None:
    """A text cell: ``-`` and empty mean none."""
    return None if value == NA or not value else value


@lru_cache(maxsize=1 << 16)
def parse_int(value: str) -> int | None:
    """An integer cell (``exit``, ``attempt``...); anything else is none."""
    try:
        return int(value)
    except ValueError:
        return None


@lru_cache(maxsize=1 << 16)
def parse_duration_ms(value: str) -> int | None:
    """``250ms``, ``12.3s``, ``2m 3s``, ``1h 2m 3s``, ``1d 2h``, ``01:02:03`` or raw millis -> milliseconds."""
    value = value.strip()
    if not value or value == NA:
        return None
    if value.isdecimal():
        return int(value)
    if ":" in value:  # Nextflow's legacy hh:mm:ss
        parts = value.split(":")
        if len(parts) == 3 and all(p.isdecimal() for p in parts):
            return (int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2])) * 1000
        return None
    total = 0.0
    rest = value
    while rest:
        i = 0
        n = len(rest)
        while i < n and (rest[i].isdecimal() or rest[i] == "."):
            i += 1
        j = i
        while j < n and rest[j] == " ":
            j += 1
        k = j
        while k < n and rest[k].isalpha():
            k += 1
        unit = _TIME_UNITS_MS.get(rest[j:k])
        if i == 0 or unit is None:
            return None
        try:
            total += float(rest[:i]) * unit
        except ValueError:
            return None
        rest = rest[k:].lstrip()
    return int(total + 0.5)


@lru_cache(maxsize=1 << 16)
def parse_bytes(value: str) -> int | None:
    """``0``, ``512 B``, ``10 MB``, ``1.5 GB`` (1024-based) or raw bytes -> bytes."""
    value = value.strip()
    if not value or value == NA:
        return None
    if value.isdecimal():
        return int(value)
    num, _, unit = value.partition(" ")
    if not unit:  # tolerate '10MB' / '1.5G'
        i = len(value)
        while i and value[i - 1].isalpha():
            i -= 1
        num, unit = value[:i], value[i:]
    unit = unit.strip().upper()
    power = _MEM_UNITS.get(unit)
    if power is None:
        power = _MEM_UNITS.get(unit + "B")
    if power is None:
        return None
    try:
        return int(float(num) * (1024**power) + 0.5)
    except ValueError:
        return None


@lru_cache(maxsize=1 << 16)
def parse_percent(value: str) -> float | None:
    """``85.3%`` or raw ``85.3`` -> 85.3."""
    if not value or value == NA:
        return None
    try:
        return float(value[:-1] if value[-1] == "%" else value)
    except ValueError:
        return None


def parse_timestamp(value: str, tz: tzinfo = UTC) -> datetime | None:
    """``2024-05-01 12:00:00.123`` (wall time in ``tz``) or raw epoch millis -> aware datetime."""
    if value.isdecimal():
        return _EPOCH + timedelta(milliseconds=int(value))
    if not value or value == NA:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


def split_name(name: str) -> tuple[str, str | None]:
    """Split a task name into (process, tag): ``A:B:FASTQC (s1)`` -> (``A:B:FASTQC``, ``s1``)."""
    i = name.find(" (")
    if i > 0 and name[-1] == ")":
        return name[:i], name[i + 2 : -1]
    return name, None


# --------------------------------------------------------------------------------------------- trace

# TaskRecord attribute -> (trace column, converter kind)
_COLUMNS: dict[str, tuple[str, str]] = {
    "hash": ("hash", "str"),
    "native_id": ("native_id", "str"),
    "name": ("name", "str"),
    "process": ("process", "str"),
    "tag": ("tag", "str"),
    "status": ("status", "str"),
    "exit": ("exit", "int"),
    "submit": ("submit", "date"),
    "start": ("start", "date"),
    "complete": ("complete", "date"),
    "duration_ms": ("duration", "time"),
    "realtime_ms": ("realtime", "time"),
    "cpu_percent": ("%cpu", "perc"),
    "peak_rss": ("peak_rss", "mem"),
    "peak_vmem": ("peak_vmem", "mem"),
    "rchar": ("rchar", "mem"),
    "wchar": ("wchar", "mem"),
    "workdir": ("workdir", "str"),
}
_KNOWN_COLUMNS = {"task_id"} | {col for col, _ in _COLUMNS.values()}


def _text_column(col: Sequence[str]) -> Sequence[str | None]:
    """Text cells with ``-`` and empty turned into ``None``."""
    if NA in col or "" in col:
        return [None if v == NA or not v else v for v in col]
    return col


def _number_column(col: Sequence[str], conv: Callable[[str], object]) -> Iterable[object]:
    """Integer-like cells: a raw column (all digits) goes straight to ``int``, others through ``conv``."""
    if all(map(str.isdecimal, col)):
        return map(int, col)
    return map(conv, col)  # memoised with a C lru_cache: repeated human values cost one dict lookup


def _date_column(col: Sequence[str], tz: tzinfo) -> Iterable[datetime | None]:
    """Timestamp cells: whole-column fast paths (all raw millis, all text), else cell by cell."""
    if all(map(str.isdecimal, col)):
        # float seconds are exact to well under a microsecond for epoch millis, and fromtimestamp rounds
        return map(datetime.fromtimestamp, map(truediv, map(int, col), repeat(1000)), repeat(UTC))
    if isinstance(tz, timezone):
        suffix = datetime(2000, 1, 1, tzinfo=tz).isoformat()[19:]
        try:
            return list(map(datetime.fromisoformat, map(str.__add__, col, repeat(suffix))))
        except ValueError:
            pass  # '-' or garbage somewhere in the column
    return map(parse_timestamp, col, repeat(tz))


def _percent_column(col: Sequence[str]) -> Iterable[float | None]:
    """Percent cells: raw mode columns are plain floats; others go through the memoised parser."""
    try:
        return list(map(float, col))
    except ValueError:
        return map(parse_percent, col)


def _split_names(names: Sequence[str]) -> tuple[list[str | None], list[str | None]]:
    """:func:`split_name` over a column, with C-level loops where possible."""
    parts = list(map(str.partition, names, repeat(" (")))
    if all(map(itemgetter(1), parts)) and all(map(itemgetter(0), parts)) and all(map(str.endswith, names, repeat(")"))):
        # the usual case, every task has a tag: all in C
        return list(map(itemgetter(0), parts)), list(map(str.removesuffix, map(itemgetter(2), parts), repeat(")")))
    process: list[str | None] = []
    tag: list[str | None] = []
    add_p, add_t = process.append, tag.append
    for (head, sep, tail), name in zip(parts, names, strict=True):
        if sep and head and tail[-1:] == ")":
            add_p(head)
            add_t(tail[:-1])
        else:
            add_p(None if name == NA or not name else name)
            add_t(None)
    return process, tag


def _column_values(
    header: list[str], columns: list[Sequence[str]], n: int, tz: tzinfo, first_row: int = 1
) -> dict[str, Iterable[object]]:
    """Converted values of every TaskRecord attribute present in the trace, one iterable per attribute."""
    index = {name: i for i, name in enumerate(header)}  # duplicate column names: the last one wins
    values: dict[str, Iterable[object]] = {}

    tid = index.get("task_id")
    if tid is None:
        values["task_id"] = map(str, range(first_row, first_row + n))
    else:
        ids = columns[tid]
        values["task_id"] = (
            [v if v != NA and v else str(k) for k, v in enumerate(ids, first_row)] if NA in ids or "" in ids else ids
        )
    numbers = {"int": parse_int, "time": parse_duration_ms, "mem": parse_bytes}
    for attr, (col, kind) in _COLUMNS.items():
        i = index.get(col)
        if i is None:
            continue
        cells = columns[i]
        if kind == "str":
            values[attr] = _text_column(cells)
        elif kind == "date":
            values[attr] = _date_column(cells, tz)
        elif kind == "perc":
            values[attr] = _percent_column(cells)
        else:
            values[attr] = _number_column(cells, numbers[kind])

    name_i = index.get("name")
    if name_i is not None and ("process" not in values or "tag" not in values):
        process, tag = _split_names(columns[name_i])
        values.setdefault("process", process)
        values.setdefault("tag", tag)

    extra = [(name, i) for name, i in index.items() if name and name not in _KNOWN_COLUMNS]
    if extra:
        names = tuple(name for name, _ in extra)
        extra_rows = zip(*(columns[i] for _, i in extra), strict=True)
        values["extra"] = map(dict, map(zip, repeat(names), extra_rows))
    else:
        values["extra"] = map(dict, repeat((), n))
    return values


def _split_columns(lines: list[str], width: int) -> list[Sequence[str]]:
    """Cells of the data lines (``lines[0]`` is the header), column by column, short rows padded.

    Fast path: when every line has exactly ``width`` cells, one ``split`` of the joined text and one
    slice per column, all in C. Otherwise rows are split and fixed one by one.
    """
    body = lines[1:]
    if "" in body:
        body = [line for line in body if line]
    if not body:
        return [[] for _ in range(width)]
    tab = "\t"
    if set(map(str.count, body, repeat(tab))) == {width - 1}:
        flat = tab.join(body).split(tab)
        return [flat[i::width] for i in range(width)]
    rows = [line.split(tab) for line in body]
    for row in rows:
        if len(row) < width:
            row.extend([NA] * (width - len(row)))
        elif len(row) > width:
            del row[width:]
    return list(zip(*rows, strict=True))


def parse_trace(data: bytes | str, *, tz: tzinfo = UTC, final: bool = False, first_row: int = 1) -> list[TaskRecord]:
    """Parse a trace file into task records, in order of first appearance of each task id.

    The header decides the columns. A last line without its newline is a row still being written and is
    skipped unless ``final``. A task id seen twice keeps its first position and its last values. Short
    rows are padded with ``-``. Text timestamps are read as wall time in ``tz`` (Nextflow writes JVM local
    time; UTC on Batch VMs and containers); raw epoch millis are exact. ``first_row``: the position of
    the first data row in the whole trace (rows without a task id are numbered by position).

    Work is done column by column with C-level loops (``zip``, ``map`` over C-memoised converters), which
    keeps a 100,000-task trace around a few hundred milliseconds.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray | memoryview) else data
    if not final:
        cut = text.rfind("\n")
        if cut < 0:
            return []
        text = text[:cut]
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    header = [h.strip() for h in lines[0].split("\t")]
    if header == [""]:
        return []
    width = len(header)
    with _gc_paused():
        columns = _split_columns(lines, width)
        del lines
        n = len(columns[0])
        if n == 0:
            return []
        values = _column_values(header, columns, n, tz, first_row)
        ids = values["task_id"] = list(values["task_id"])
        args = [values.get(f.name) or repeat(None) for f in fields(TaskRecord)]
        records = list(map(TaskRecord, *args))
        if len(set(ids)) != n:  # a repeated id keeps its first position and takes the newest values
            records = list(dict(zip(ids, records, strict=True)).values())
    return records


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while allocating many acyclic objects (its passes cost ~30% of a parse)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ------------------------------------------------------------------------------------------ progress


@dataclass(slots=True)
class ProcessProgress:
    """Task counts of one process, as far as the trace shows them."""

    process: str
    submitted: int = 0
    """NEW or SUBMITTED: handed to the executor, not yet running."""
    running: int = 0
    succeeded: int = 0
    """COMPLETED."""
    cached: int = 0
    failed: int = 0
    aborted: int = 0
    total: int = 0
    """Every row of the process, including statuses not counted above."""


_STATUS_ATTR = {
    "NEW": "submitted",
    "SUBMITTED": "submitted",
    "RUNNING": "running",
    "COMPLETED": "succeeded",
    "CACHED": "cached",
    "FAILED": "failed",
    "ABORTED": "aborted",
}


def count_task(counts: dict[str, ProcessProgress], task: TaskRecord, sign: int = 1) -> None:
    """Add (``sign=1``) or remove (``-1``) one task to per-process ``counts``, creating its process."""
    proc = task.process or task.name or ""
    p = counts.get(proc)
    if p is None:
        p = counts[proc] = ProcessProgress(process=proc)
    p.total += sign
    attr = _STATUS_ATTR.get((task.status or "").upper())
    if attr is not None:
        setattr(p, attr, getattr(p, attr) + sign)


_COUNT_FIELDS = ("submitted", "running", "succeeded", "cached", "failed", "aborted", "total")
OTHER_PROCESSES = "(other processes)"


def count_rows(
    header: Sequence[str], lines: Iterable[bytes], counts: dict[str, ProcessProgress], *, max_processes: int = 10_000
) -> int:
    """Count raw trace rows into per-process ``counts`` without keeping them (rows past the row limit);
    returns how many. Past ``max_processes`` distinct processes, the rest count as :data:`OTHER_PROCESSES`."""
    index = {name: i for i, name in enumerate(header)}
    proc_i, name_i, status_i = index.get("process"), index.get("name"), index.get("status")
    n = 0
    for line in lines:
        cells = line.split(b"\t")
        n += 1
        proc = ""
        if proc_i is not None and proc_i < len(cells):
            proc = cells[proc_i].decode("utf-8", "replace")
        if (not proc or proc == NA) and name_i is not None and name_i < len(cells):
            name = cells[name_i].decode("utf-8", "replace")
            proc = "" if name == NA else split_name(name)[0]
        status = cells[status_i].decode("ascii", "replace") if status_i is not None and status_i < len(cells) else ""
        p = counts.get(proc)
        if p is None:
            if len(counts) >= max_processes:
                proc = OTHER_PROCESSES
            p = counts.get(proc)
            if p is None:
                p = counts[proc] = ProcessProgress(process=proc)
        p.total += 1
        attr = _STATUS_ATTR.get(status.strip().upper())
        if attr is not None:
            setattr(p, attr, getattr(p, attr) + 1)
    return n


def progress(tasks: Iterable[TaskRecord]) -> list[ProcessProgress]:
    """Per-process counts, processes in order of first appearance."""
    counts: dict[str, dict[str | None, int]] = {}
    for t in tasks:
        proc = t.process or t.name or ""
        per = counts.get(proc)
        if per is None:
            per = counts[proc] = {}
        per[t.status] = per.get(t.status, 0) + 1
    result = []
    for proc, per in counts.items():
        p = ProcessProgress(process=proc, total=sum(per.values()))
        for status, n in per.items():
            attr = _STATUS_ATTR.get((status or "").upper())
            if attr is not None:
                setattr(p, attr, getattr(p, attr) + n)
        result.append(p)
    return result


# -------------------------------------------------------------------------------------------- filter


def _norm_set(value: str | Iterable[str] | None, upper: bool) -> frozenset[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    items = [v.strip() for v in items if v and v.strip()]
    if not items:
        return None
    return frozenset(v.upper() for v in items) if upper else frozenset(items)


def filter_tasks(
    tasks: Sequence[TaskRecord],
    status: str | Iterable[str] | None = None,
    process: str | Iterable[str] | None = None,
) -> list[TaskRecord]:
    """Tasks whose status (case-insensitive) and process match; ``None`` or empty means any.

    A process matches by its fully qualified name (``NFCORE_SCRNASEQ:SCRNASEQ:FASTQC``) or by its simple
    name (``FASTQC``).
    """
    statuses = _norm_set(status, upper=True)
    processes = _norm_set(process, upper=False)
    if statuses is None and processes is None:
        return list(tasks)

    if processes is not None:
        # Resolve names once per distinct process, then filter by set membership.
        distinct = {t.process for t in tasks}
        processes = frozenset(
            p for p in distinct if p is not None and (p in processes or p.rpartition(":")[2] in processes)
        )
    if processes is None:
        return [t for t in tasks if t.status in statuses]  # type: ignore[operator]
    if statuses is None:
        return [t for t in tasks if t.process in processes]
    return [t for t in tasks if t.status in statuses and t.process in processes]


# -------------------------------------------------------------------------------------- parsed trace


@dataclass
class ParsedTrace:
    """A parsed trace version: tasks, an id index and per-process progress."""

    uri: str
    version: str
    tasks: tuple[TaskRecord, ...]
    by_id: dict[str, TaskRecord]
    progress: list[ProcessProgress]
    truncated_rows: int = 0
    """Rows past the row limit (:class:`services.logs.tasks.TaskStore`): counted in ``progress``, not kept."""

    @classmethod
    def from_data(
        cls, uri: str, version: str, data: bytes | str, *, tz: tzinfo = UTC, final: bool = False
    ) -> ParsedTrace:
        """Parse ``data`` and index it."""
        tasks = parse_trace(data, tz=tz, final=final)
        return cls(
            uri=uri,
            version=version,
            tasks=tuple(tasks),
            by_id={t.task_id: t for t in tasks},
            progress=progress(tasks),
        )

    def extended(
        self,
        version: str,
        records: Iterable[TaskRecord],
        *,
        truncated_rows: int = 0,
        uncounted: Iterable[ProcessProgress] = (),
    ) -> ParsedTrace:
        """The next version of a growing trace: ``records`` are the rows written since this one.

        A new task id is appended; a known one keeps its position and takes the new values (as in
        :func:`parse_trace`). Progress is updated by those rows alone, so a 100,000-task trace that gains
        a few rows costs a few rows, not a re-parse. This version is left untouched. ``truncated_rows`` rows
        past the row limit were not kept; ``uncounted`` are their counts, added to the progress.
        """
        tasks = list(self.tasks)
        by_id = dict(self.by_id)
        counts = {p.process: replace(p) for p in self.progress}
        positions: dict[str, int] | None = None
        for record in records:
            old = by_id.get(record.task_id)
            if old is None:
                if positions is not None:
                    positions[record.task_id] = len(tasks)
                tasks.append(record)
            else:
                if positions is None:
                    positions = {t.task_id: i for i, t in enumerate(tasks)}
                tasks[positions[record.task_id]] = record
                count_task(counts, old, -1)
            by_id[record.task_id] = record
            count_task(counts, record, 1)
        for extra in uncounted:
            p = counts.get(extra.process)
            if p is None:
                p = counts[extra.process] = ProcessProgress(process=extra.process)
            for name in _COUNT_FIELDS:
                setattr(p, name, getattr(p, name) + getattr(extra, name))
        return ParsedTrace(
            uri=self.uri,
            version=str(version),
            tasks=tuple(tasks),
            by_id=by_id,
            progress=[p for p in counts.values() if p.total > 0],
            truncated_rows=self.truncated_rows + truncated_rows,
        )
