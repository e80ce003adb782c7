"""A run's tasks: its ``trace.txt`` parsed once per version, and the tasks in flight from its workflow log.

Nextflow writes a trace row when a task *ends* (or is found in the cache), so a running task is not in
the trace yet. Its ``[ab/cdef12] Submitted process > NAME`` line in ``.nextflow.log`` is what shows it
(plus, on google-batch, ``[GOOGLE BATCH] Process `NAME` submitted > job=…; uid=…; work-dir=…``). Progress
counts trace rows by status, plus the submitted tasks that have no row yet as ``submitted``.

Both files only grow while a run goes, so both are read incrementally: a new trace version costs a ranged
read of the appended rows and their parse (:meth:`ParsedTrace.extended`), the log costs the bytes written
since the last look. Nothing here imports grpc.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

from arc_core.contracts import run_layout as layout
from arc_core.errors import NotFound
from arc_core.storage import Storage
from services.logs.lines import MAX_LINE_BYTES, LineSplitter, cut_line
from services.logs.log_parser import parse_log_timestamp
from services.logs.runs import RunView
from services.logs.trace_cache import TraceCache
from services.logs.trace_parser import (
    NA,
    ParsedTrace,
    ProcessProgress,
    TaskRecord,
    count_rows,
    parse_trace,
    split_name,
)

log = logging.getLogger(__name__)

FINISHED = frozenset({"COMPLETED", "FAILED", "CACHED", "ABORTED"})
_TAIL_CHECK = 64  # bytes re-read before the appended part, to notice a rewritten (not grown) trace
MAX_TASK_NAME_BYTES = 1 << 10
"""A task name read from a submission line is cut to this, with the marker of a cut line: it holds the
task's tag (a sample name the run's caller chose), and the line itself may be megabytes long."""
MAX_BATCH_ID_BYTES = 128  # a google-batch job id or uid (see _BATCH_ID_RE): longer is not one, and not kept
MAX_WORKDIR_BYTES = 4096  # PATH_MAX: a longer work dir is not kept (its hash still is)

# One submission line of .nextflow.log (logback pattern, see log_parser): the INFO line every executor
# writes, or google-batch's DEBUG line that carries the Batch job and its uid.
_SUBMISSION_RE = re.compile(
    rb"^(?P<ts>[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) \[[^\n]*?\] (?:INFO|DEBUG) +[^ \n]+ - "
    rb"(?:\[(?P<hash>[0-9a-f]{2}/[0-9a-f]{6})\] (?:Re-s|S)ubmitted process > (?P<name>[^\r\n]*)"
    rb"|\[GOOGLE BATCH\] Process `(?P<bname>[^`\r\n]*)` submitted > "
    rb"job=(?P<job>[^;\s]+); uid=(?P<uid>[^;\s]+); work-dir=(?P<wd>[^\s]+))",
    re.MULTILINE,
)
_WORKDIR_HASH_RE = re.compile(r"/([0-9a-f]{2})/([0-9a-f]{30})/?$")
_HASH_ID_RE = re.compile(r"^([0-9a-f]{2})/?([0-9a-f]{6,30})$")
_BATCH_ID_RE = re.compile(r"^([A-Za-z0-9._-]{1,128})/([A-Za-z0-9._-]{1,128})/([A-Za-z0-9._-]{1,128})$")


def trace_key(run_id: str) -> str:
    return layout.logs_key(run_id, layout.TRACE)


def log_key(run_id: str) -> str:
    return layout.logs_key(run_id, layout.NEXTFLOW_LOG)


def parse_hash_id(value: str) -> tuple[str, str] | None:
    """``ab/cdef12``, ``abcdef12`` or a longer prefix of the 32-hex hash -> (``ab``, ``cdef12…``)."""
    m = _HASH_ID_RE.match(value)
    return (m.group(1), m.group(2)) if m else None


def batch_ids(native_id: str | None) -> tuple[str, str, str] | None:
    """google-batch's ``<jobId>/<taskId>/<uid>`` native id -> (job id, task id, job uid)."""
    m = _BATCH_ID_RE.match(native_id or "")
    return (m.group(1), m.group(2), m.group(3)) if m else None


@dataclass(frozen=True)
class Submission:
    """A task submitted according to the workflow log."""

    hash: str
    name: str
    time: datetime | None
    native_id: str = ""
    workdir: str = ""


@dataclass(frozen=True)
class TaskRef:
    """What finding a task's logs needs, from its trace row or its submission line."""

    task_id: str
    """Empty for a task in flight (known from the log only)."""
    hash: str | None
    full_hash: str | None
    """The hash prefix to match work dirs with (as long as known: up to 32 hex digits, no slash)."""
    name: str | None
    status: str
    native_id: str | None
    workdir: str | None
    submit: datetime | None
    complete: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_record(cls, t: TaskRecord) -> TaskRef:
        complete = t.complete
        if complete is None and t.submit is not None and t.duration_ms is not None:
            complete = t.submit + timedelta(milliseconds=t.duration_ms)
        return cls(
            task_id=t.task_id,
            hash=t.hash,
            full_hash=(t.hash or "").replace("/", "") or None,
            name=t.name,
            status=(t.status or "").upper(),
            native_id=t.native_id,
            workdir=t.workdir,
            submit=t.submit,
            complete=complete,
        )

    @classmethod
    def from_submission(cls, s: Submission) -> TaskRef:
        full = s.hash.replace("/", "")
        m = _WORKDIR_HASH_RE.search(s.workdir)
        if m:
            full = m.group(1) + m.group(2)
        return cls(
            task_id="",
            hash=s.hash,
            full_hash=full,
            name=s.name,
            status="SUBMITTED",
            native_id=s.native_id or None,
            workdir=s.workdir or None,
            submit=s.time,
            complete=None,
        )


@dataclass
class _TraceState:
    """How far a trace has been read: everything before ``consumed``, the partial last line in ``lines``.
    Kept in the trace's cache entry, next to the parse of that version."""

    version: str
    consumed: int
    header: bytes
    tail: bytes
    """The last bytes before ``consumed`` (a rewritten trace no longer has them there)."""
    final: bool
    hashes: set[str] | None
    lines: LineSplitter
    rows: int = 0
    """Data rows read so far (kept or not)."""


@dataclass
class _LogIndex:
    consumed: int = 0
    pending: dict[str, Submission] = field(default_factory=dict)
    """Submitted tasks not seen in the trace yet (pruned as their rows appear), at most ``max_pending``."""
    dropped: int = 0
    """Submissions dropped past ``max_pending`` (the oldest go first)."""


class TaskStore:
    """Parsed traces (per object version, with how far each was read, in one :class:`TraceCache`) and
    in-flight submissions, per run."""

    def __init__(
        self,
        storage: Storage,
        *,
        cache: TraceCache | None = None,
        tz: tzinfo = UTC,
        max_runs: int = 16,
        max_cached_tasks: int = 150_000,
        log_window_bytes: int = 4 << 20,
        max_trace_rows: int = 200_000,
        max_pending: int = 200_000,
        max_line_bytes: int = MAX_LINE_BYTES,
        chunk_bytes: int = 1 << 20,
    ) -> None:
        self.storage = storage
        self.tz = tz
        self.max_trace_rows = max_trace_rows
        """Rows kept per trace; the rest are counted (progress, ``truncated_rows``), not kept."""
        self.max_pending = max_pending
        """Submissions without a trace row kept per run (tasks in flight); past it the oldest are dropped."""
        self.max_line_bytes = max_line_bytes
        self.chunk_bytes = chunk_bytes
        self.cache = cache or TraceCache(max_entries=max_runs, tz=tz, max_tasks=max_cached_tasks)
        self.max_runs = max_runs
        self.log_window_bytes = log_window_bytes
        self._logs: OrderedDict[str, _LogIndex] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            if len(self._locks) > 4 * self.max_runs:  # forget idle locks
                for key in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[key]
            lock = self._locks[name] = asyncio.Lock()
        return lock

    def _remember(self, table: OrderedDict, key: str, value: object) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_runs:
            table.popitem(last=False)

    # ------------------------------------------------------------------------------------------ trace

    async def trace(self, run_id: str, *, final: bool = False) -> ParsedTrace | None:
        """The run's trace as stored now, or None before it exists. ``final``: the run has ended."""
        key = trace_key(run_id)
        info = await self.storage.stat(key)
        if info is None:
            return None
        uri = self.storage.uri(key)
        hit = self.cache.get(uri, info.version)
        if hit is not None:
            return hit
        async with self._lock("trace:" + uri):
            info = await self.storage.stat(key) or info
            hit = self.cache.get(uri, info.version)
            if hit is not None:
                return hit
            read = None
            entry = self.cache.latest(uri)
            if entry is not None and isinstance(state := entry.read_state, _TraceState):
                if not state.final and info.size >= state.consumed:
                    read = await self._extend(key, state, entry.parsed, info.version, info.size, final)
            if read is None:
                read = await self._full(key, uri, info.version, info.size, final)
            parsed, new_state = read
            self.cache.put(parsed, new_state)
            return parsed

    async def _full(self, key: str, uri: str, version: str, size: int, final: bool) -> tuple[ParsedTrace, _TraceState]:
        state = _TraceState("", 0, b"", b"", False, set(), LineSplitter(self.max_line_bytes))
        read = await self._read(key, uri, state, ParsedTrace(uri, str(version), (), {}, []), version, size, final)
        assert read is not None  # nothing to check before byte 0
        return read

    async def _extend(
        self, key: str, state: _TraceState, previous: ParsedTrace, version: str, size: int, final: bool
    ) -> tuple[ParsedTrace, _TraceState] | None:
        """Parse only the rows appended since ``state``; None when that is not possible (rewritten trace...)."""
        if previous.version != state.version or not state.header or b"task_id" not in state.header:
            return None  # rows numbered by position: parse it all
        return await self._read(key, previous.uri, state, previous, version, size, final)

    async def _read(
        self, key: str, uri: str, state: _TraceState, previous: ParsedTrace, version: str, size: int, final: bool
    ) -> tuple[ParsedTrace, _TraceState] | None:
        """``previous`` plus the rows of bytes ``[state.consumed, size)``, read chunk by chunk, and the new read
        state; None when the bytes before ``state.consumed`` are no longer ``state.tail`` (a rewritten trace:
        parse it all).

        Memory stays bounded whatever the trace holds: one chunk, lines of at most ``max_line_bytes`` (cut
        with a marker), and at most ``max_trace_rows`` rows kept; rows past it are counted, not kept.
        """
        lines = state.lines.copy()  # ``state`` stays valid if a read fails half-way
        header, pos, rows, tail = state.header, state.consumed, state.rows, state.tail
        room = self.max_trace_rows - len(previous.tasks)
        records: list[TaskRecord] = []
        uncounted: dict[str, ProcessProgress] = {}
        truncated = 0
        truncated_hashes: set[str] = set()  # of the rows counted, not kept: their submissions are pruned too

        async def take(batch: list[bytes]) -> None:
            nonlocal header, rows, room, truncated
            if not header and batch:
                header = batch.pop(0).rstrip(b"\r") + b"\n"
            if not header.strip():
                return  # no header (or a blank one): no rows, as parse_trace would say
            batch = [line for line in (b.rstrip(b"\r") for b in batch) if line]
            if not batch:
                return
            kept, rest = batch[: max(room, 0)], batch[max(room, 0) :]
            if kept:
                text = header + b"\n".join(kept)
                records.extend(await asyncio.to_thread(parse_trace, text, tz=self.tz, final=True, first_row=rows + 1))
                room -= len(kept)
            if rest:
                cells = [h.strip() for h in header.decode("utf-8", "replace").split("\t")]
                truncated += await asyncio.to_thread(_count_rows, cells, rest, uncounted, truncated_hashes)
            rows += len(batch)

        check = tail  # read again with the first chunk (one request), to notice a rewritten trace
        while pos < size:
            chunk = await self.storage.read_range(key, pos - len(check), min(size, pos + self.chunk_bytes))
            if check:
                if not chunk.startswith(check):
                    return None
                chunk, check = chunk[len(check) :], b""
            if not chunk:
                break  # the object shrank under us: a later look sees it
            pos += len(chunk)
            tail = (tail + chunk[-_TAIL_CHECK:])[-_TAIL_CHECK:]
            await take(lines.feed(chunk))
        if final and (last := lines.flush()) is not None:
            await take([last])  # the run has ended: a last line without its newline is a row
        if truncated:
            log.warning("trace %s: %d rows past the limit of %d counted, not kept", uri, truncated, self.max_trace_rows)
        parsed_trace = previous.extended(version, records, truncated_rows=truncated, uncounted=uncounted.values())
        hashes = state.hashes
        if hashes is not None:
            if not header or b"\thash\t" in b"\t" + header.rstrip() + b"\t":
                hashes.update(r.hash for r in records if r.hash)  # the old state is replaced below
                hashes.update(truncated_hashes)
            else:
                hashes = None  # no hash column: rows cannot be matched with submissions
        return parsed_trace, _TraceState(str(version), pos, header, tail, final, hashes, lines, rows)

    def _trace_hashes(self, run_id: str, trace: ParsedTrace) -> set[str] | None:
        """Hashes of the trace's rows; None when the trace has no hash column."""
        entry = self.cache.latest(self.storage.uri(trace_key(run_id)))
        state = entry.read_state if entry is not None else None
        if isinstance(state, _TraceState) and state.version == trace.version:
            return state.hashes
        hashes = {t.hash for t in trace.tasks if t.hash}
        return hashes if hashes or not trace.tasks else None

    # --------------------------------------------------------------------------------- submissions

    async def in_flight(self, run: RunView, trace: ParsedTrace | None) -> list[Submission]:
        """Tasks the log shows submitted that have no trace row yet; none once the run has ended."""
        if run.terminal:
            return []
        key = log_key(run.run_id)
        uri = self.storage.uri(key)
        async with self._lock("log:" + uri):
            index = self._logs.get(uri) or _LogIndex()
            info = await self.storage.stat(key)
            if info is not None and info.size < index.consumed:
                index = _LogIndex()  # replaced: start over
            hashes = self._trace_hashes(run.run_id, trace) if trace is not None else set()
            if info is not None and info.size > index.consumed:
                await self._scan(key, index, info.size, run.reference_time, hashes or set())
            self._remember(self._logs, uri, index)
            if hashes is None:
                return []  # a trace without a hash column: rows cannot be matched, count the trace alone
            for h in [h for h in index.pending if h in hashes]:
                del index.pending[h]
            return list(index.pending.values())

    async def _scan(self, key: str, index: _LogIndex, size: int, reference: datetime | None, ended: set[str]) -> None:
        """Add the submissions of the log's new bytes to ``index.pending``, but those of tasks ``ended`` (with
        a trace row already): a long run's log, read from the start, holds far more ended tasks than the
        ``max_pending`` kept. Past that limit the oldest are dropped and counted."""
        dropped = index.dropped
        while index.consumed < size:
            stop = min(size, index.consumed + self.log_window_bytes)
            data = await self.storage.read_range(key, index.consumed, stop)
            if not data:
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) < self.log_window_bytes:
                    return  # a partial last line: wait for its newline
                cut = len(data)  # one huge line: skip it, it holds no submission
            found = await asyncio.to_thread(_submissions, data[:cut], reference, self.tz)
            for s in found:
                if s.hash in ended:
                    continue
                old = index.pending.get(s.hash)
                # google-batch logs two lines per task; keep what each one knows
                if old is not None:
                    s = replace(
                        old, native_id=s.native_id or old.native_id, workdir=s.workdir or old.workdir, time=old.time
                    )
                index.pending[s.hash] = s
            while len(index.pending) > self.max_pending:
                del index.pending[next(iter(index.pending))]
                index.dropped += 1
            index.consumed += cut
        if index.dropped > dropped:
            log.warning(
                "log %s: %d submissions past the limit of %d tasks in flight dropped",
                key,
                index.dropped,
                self.max_pending,
            )

    # ---------------------------------------------------------------------------------------- views

    async def progress(self, run: RunView, trace: ParsedTrace | None) -> list[ProcessProgress]:
        """Per-process counts: the trace's, plus tasks in flight as ``submitted``."""
        counts = [replace(p) for p in trace.progress] if trace is not None else []
        pending = await self.in_flight(run, trace)
        if pending:
            by_process = {p.process: p for p in counts}
            for s in pending:
                proc = split_name(s.name)[0]
                p = by_process.get(proc)
                if p is None:
                    p = by_process[proc] = ProcessProgress(process=proc)
                    counts.append(p)
                p.submitted += 1
                p.total += 1
        return counts

    async def find(self, run: RunView, task_id: str) -> TaskRef:
        """A task by trace ``task_id``, or by hash (``ab/cdef12``, ``abcdef12``) for one still in flight."""
        trace = await self.trace(run.run_id, final=run.terminal)
        if trace is not None:
            record = trace.by_id.get(task_id)
            if record is not None:
                return TaskRef.from_record(record)
        parts = parse_hash_id(task_id)
        if parts is not None:
            short = f"{parts[0]}/{parts[1][:6]}"
            if trace is not None:
                for record in reversed(trace.tasks):
                    if record.hash == short:
                        ref = TaskRef.from_record(record)
                        return replace(ref, full_hash=parts[0] + parts[1]) if len(parts[1]) > 6 else ref
            for s in await self.in_flight(run, trace):
                if s.hash == short:
                    return TaskRef.from_submission(s)
        raise NotFound(f"task {task_id} not found in run {run.run_id}")


def _count_rows(header: list[str], lines: list[bytes], counts: dict[str, ProcessProgress], hashes: set[str]) -> int:
    """:func:`count_rows`, and the rows' hashes into ``hashes``: a row past the row limit is not kept, but
    its task has ended all the same (its submission must not stay in flight, counted twice)."""
    n = count_rows(header, lines, counts)
    if "hash" in header:
        i = header.index("hash")
        for line in lines:
            cells = line.split(b"\t", i + 1)
            if i < len(cells) and (h := cells[i].decode("utf-8", "replace")) and h != NA:
                hashes.add(h)
    return n


def _text(raw: bytes, limit: int) -> str:
    """``raw`` decoded, cut to ``limit`` bytes with the marker of a cut line."""
    if len(raw) > limit:
        raw = cut_line(raw[:limit], len(raw) - limit)
    return raw.decode("utf-8", "replace")


def _submissions(data: bytes, reference: datetime | None, tz: tzinfo) -> list[Submission]:
    """The submission lines in whole lines of the log."""
    if b"ubmitted" not in data:
        return []
    found = []
    for m in _SUBMISSION_RE.finditer(data):
        ts = m.group("ts").decode("ascii")
        time = parse_log_timestamp(ts, reference=reference, tz=tz)
        if m.group("hash"):
            found.append(Submission(m.group("hash").decode(), _text(m.group("name"), MAX_TASK_NAME_BYTES), time))
            continue
        wh = _WORKDIR_HASH_RE.search(m.group("wd")[-40:].decode("utf-8", "replace"))
        if wh is None:
            continue
        job, uid = m.group("job"), m.group("uid")
        native = ""
        if len(job) <= MAX_BATCH_ID_BYTES and len(uid) <= MAX_BATCH_ID_BYTES:
            native = f"{job.decode('utf-8', 'replace')}/0/{uid.decode('utf-8', 'replace')}"
        workdir = m.group("wd").decode("utf-8", "replace") if len(m.group("wd")) <= MAX_WORKDIR_BYTES else ""
        name = _text(m.group("bname"), MAX_TASK_NAME_BYTES)
        found.append(Submission(f"{wh.group(1)}/{wh.group(2)[:6]}", name, time, native, workdir))
    return found
