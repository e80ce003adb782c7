"""Reading a run's ``logs/nextflow.log`` in pages and following it live, by byte ranges only.

The orchestrator copies Nextflow's log to storage every few seconds while the run goes, reports the run's
end, then uploads the final log. So the stored log only grows, and it is *final* once the run is terminal
and either the log was written after the run ended, it ends with Nextflow's ``Execution complete --
Goodbye`` line, or a grace period has passed (a killed Nextflow may never upload again).

Entries come from :mod:`services.logs.log_parser`, which holds back the last entry of what it reads
(continuation lines may follow) and any partial last line. Here the held-back last entry is released once
the log has settled (unchanged for ``settle_seconds``): Nextflow writes each event in one write, so an
entry complete in a settled copy is complete. A partial last line always waits for its newline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum

from arc_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from arc_core.storage import ObjectInfo, Storage
from services.logs.log_parser import LogEntry, parse_log_chunk
from services.logs.runs import RunTracker, RunView
from services.logs.tasks import log_key

GOODBYE = b"> Execution complete -- Goodbye"


@dataclass(frozen=True)
class LogOptions:
    """Tunables of workflow log reads (all bounded: no read loads a whole log)."""

    default_limit: int = 500
    max_limit: int = 5000
    window_bytes: int = 512 << 10
    """Bytes read per ranged read (a streamed batch holds at most one window's entries)."""
    max_entry_bytes: int = 2 << 20
    """An entry longer than this is cut at a line boundary (memory stays bounded whatever the log holds);
    one line longer than this becomes entries of this many bytes each. Every line of a message is cut at
    ``services.logs.lines.MAX_LINE_BYTES`` (64 KiB), with a marker."""
    max_page_bytes: int = 2 << 20
    """A page stops after this much message text (responses stay under gRPC's default 4 MiB limit)."""
    poll_seconds: float = 0.5
    """How often a follower looks at the log's size (one stat)."""
    settle_seconds: float = 0.25
    """Unchanged for this long, the log's last entry is released (and re-checked this soon when held)."""
    final_grace_seconds: float = 30.0
    """After the run ends, how long to wait for the final upload before taking the log as final."""


@dataclass(frozen=True)
class LogPage:
    entries: list[LogEntry]
    next_offset: int
    complete: bool


class _Mode(Enum):
    HOLD = "hold"  # hold the last entry and any partial line back
    LINES = "lines"  # release every entry made of whole lines
    ALL = "all"  # the log is final: everything, a last line without newline included


def _parse(
    data: bytes, base: int, mode: _Mode, limit: int | None, reference: datetime | None, tz: tzinfo
) -> tuple[list[LogEntry], int]:
    if mode is _Mode.LINES:
        data = data[: data.rfind(b"\n") + 1]
        if not data:
            return [], base
    return parse_log_chunk(data, base, mode is not _Mode.HOLD, limit=limit, reference=reference, tz=tz)


def is_final(run: RunView, info: ObjectInfo | None, *, now: datetime, grace: float, goodbye: bool) -> bool:
    """Whether the stored log will not change any more (see the module docstring)."""
    if not run.terminal:
        return False
    if goodbye or run.ended_at is None:
        return True
    if info is not None and info.updated_at >= run.ended_at:
        return True
    return now >= run.ended_at + timedelta(seconds=grace)


class WorkflowLogReader:
    """Pages and live follows of workflow logs in one storage."""

    def __init__(self, storage: Storage, *, options: LogOptions | None = None, tz: tzinfo = UTC) -> None:
        self.storage = storage
        self.options = options or LogOptions()
        self.tz = tz

    def check(self, offset: int, limit: int | None = None) -> int:
        """Validate a request; returns the effective limit."""
        violations = []
        if offset < 0:
            violations.append(FieldViolation("offset", "must be >= 0"))
        if limit is not None and limit < 0:
            violations.append(FieldViolation("limit", "must be >= 0"))
        if violations:
            raise InvalidArgument("invalid log position", violations)
        return min(limit or self.options.default_limit, self.options.max_limit)

    async def _goodbye(self, key: str, info: ObjectInfo | None) -> bool:
        if info is None or info.size == 0:
            return False
        tail = await self.storage.read_range(key, max(0, info.size - 256), info.size)
        return GOODBYE in tail

    async def _final(self, run: RunView, key: str, info: ObjectInfo | None, now: datetime) -> bool:
        grace = self.options.final_grace_seconds
        if is_final(run, info, now=now, grace=grace, goodbye=False):
            return True
        return run.terminal and await self._goodbye(key, info)

    async def _scan(
        self, key: str, pos: int, end: int, eof_mode: _Mode, limit: int | None, reference: datetime | None
    ) -> AsyncIterator[tuple[list[LogEntry], int]]:
        """Entries of bytes ``[pos, end)`` window by window, with the offset consumed after each batch."""
        opts = self.options
        window = opts.window_bytes
        while pos < end and (limit is None or limit > 0):
            data = await self.storage.read_range(key, pos, min(end, pos + window))
            if not data:
                return  # the object shrank under us; the caller's next stat tells
            at_eof = pos + len(data) >= end
            mode = eof_mode if at_eof else _Mode.HOLD
            entries, consumed = _parse(data, pos, mode, limit, reference, self.tz)
            if not entries:
                if at_eof:
                    return
                if window < opts.max_entry_bytes:
                    window = min(opts.max_entry_bytes, window * 2)  # one entry longer than the window
                    continue
                # An entry longer than max_entry_bytes: cut it at a line boundary, or mid-line if it is one line.
                entries, consumed = _parse(data, pos, _Mode.LINES, limit, reference, self.tz)
                if not entries:  # no newline in the window: this part of the line is an entry (cut, with a marker)
                    entries, consumed = _parse(data, pos, _Mode.ALL, limit, reference, self.tz)
            yield entries, consumed
            if limit is not None:
                limit -= len(entries)
            pos = consumed
            window = opts.window_bytes

    async def page(self, run: RunView, offset: int, limit: int) -> LogPage:
        """Entries from ``offset`` (at most ``limit``, and about ``max_page_bytes`` of text)."""
        key = log_key(run.run_id)
        info = await self.storage.stat(key)
        now = datetime.now(UTC)
        final = await self._final(run, key, info, now)
        if info is None:
            return LogPage([], offset, final)
        if offset > info.size:
            raise InvalidArgument(
                "offset is past the end of the log", [FieldViolation("offset", f"the log has {info.size} bytes")]
            )
        settled = (now - info.updated_at).total_seconds() >= self.options.settle_seconds
        eof_mode = _Mode.ALL if final else _Mode.LINES if settled else _Mode.HOLD
        entries: list[LogEntry] = []
        pos = offset
        text_bytes = 0
        async for batch, _consumed in self._scan(key, offset, info.size, eof_mode, limit, run.reference_time):
            for entry in batch:
                entries.append(entry)
                pos = entry.end_offset
                text_bytes += len(entry.message)
                if text_bytes >= self.options.max_page_bytes:
                    return LogPage(entries, pos, False)
        return LogPage(entries, pos, final and pos >= info.size)

    async def follow(self, tracker: RunTracker, offset: int) -> AsyncIterator[list[LogEntry]]:
        """Every entry from ``offset`` as it reaches storage, in batches (one per ranged read: what arrived
        together, or a window's worth when catching up); ends once the run is terminal and the log final."""
        opts = self.options
        key = log_key(tracker.run.run_id)
        loop = asyncio.get_running_loop()
        pos = offset
        last_size: int | None = None
        changed_at = loop.time()
        first = True
        scanned: tuple[int, int, _Mode] | None = None  # (pos, size, mode) of the last scan: skip a repeat
        while True:
            run = tracker.run
            info = await self.storage.stat(key)
            now = datetime.now(UTC)
            size = info.size if info is not None else 0
            if info is not None and size < pos:
                if first:
                    raise InvalidArgument(
                        "offset is past the end of the log", [FieldViolation("offset", f"the log has {size} bytes")]
                    )
                raise FailedPrecondition("the workflow log was replaced; read it again from offset 0")
            first = False
            if size != last_size:
                last_size, changed_at = size, loop.time()
            settled = info is not None and (
                loop.time() - changed_at >= opts.settle_seconds
                or (now - info.updated_at).total_seconds() >= opts.settle_seconds
            )
            final = await self._final(run, key, info, now)
            eof_mode = _Mode.ALL if final else _Mode.LINES if settled else _Mode.HOLD
            if pos < size and scanned != (pos, size, eof_mode):
                scanned = (pos, size, eof_mode)  # the held-back tail is read again only when something changed
                async for batch, consumed in self._scan(key, pos, size, eof_mode, None, run.reference_time):
                    yield batch
                    pos = consumed
            if final and pos >= size:
                return
            held = info is not None and pos < size
            await tracker.wait(opts.settle_seconds if held else opts.poll_seconds)
