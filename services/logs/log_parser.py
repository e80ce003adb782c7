"""Parse Nextflow's ``.nextflow.log`` incrementally into entries with exact byte offsets.

Nextflow's file appender (``LoggerHelper.createEncoder``) uses the logback pattern
``%d{MMM-dd HH:mm:ss.SSS} [%t] %-5level %logger{36} - %msg%n``, e.g.::

    May-01 12:00:01.102 [main] INFO  nextflow.cli.CmdRun - Launching `nf-core/scrnaseq` [angry_curie] ...
    May-01 12:07:44.019 [Task monitor] ERROR nextflow.processor.TaskProcessor - Error executing process > ...

A line that does not start like that (stack frames, ``Caused by:``, the body of an ``Error executing
process >`` block, blank lines) continues the previous entry. Offsets are byte offsets into the file, so a
client that resumes from the ``consumed`` offset of :func:`parse_log_chunk` gets no gap and no duplicate.

Timestamps carry no year; see :func:`parse_log_timestamp` for the rule used.
Nothing here does I/O or imports grpc.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from services.logs.lines import MAX_LINE_BYTES, cut_line

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

# One entry header at the start of a line. The thread may contain spaces ("Task monitor") and even ']',
# so it ends at the first "] LEVEL " that follows. The month is English (JVM default locale).
_ENTRY_RE = re.compile(
    rb"^(?P<ts>[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) "
    rb"\[(?P<thread>[^\n]*?)\] "
    rb"(?P<level>TRACE|DEBUG|INFO|WARN|ERROR) +"
    rb"(?P<logger>[^ \n]+) -(?: |(?=\r?\n)|\Z)",
    re.MULTILINE,
)

_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry; a multi-line message (stack trace, error block) is one entry.

    ``offset`` is the byte offset of the entry's first byte and ``end_offset`` the offset just after its
    last line's newline, so consecutive entries tile the file: ``a.end_offset == b.offset``.
    Lines found before any header (e.g. reading from the middle of a file) form an entry with empty
    ``timestamp``, ``level``, ``thread`` and ``logger``.
    """

    offset: int
    end_offset: int
    timestamp: str
    """As written, e.g. ``May-01 12:00:01.102``."""
    time: datetime | None
    """``timestamp`` with a year inferred (see :func:`parse_log_timestamp`); ``None`` when unparseable."""
    level: str
    thread: str
    logger: str
    message: str
    """The message, continuation lines included, without the final newline."""


def parse_log_timestamp(timestamp: str, *, reference: datetime | None = None, tz: tzinfo = UTC) -> datetime | None:
    """Parse ``May-01 12:00:01.102`` (wall time in ``tz``) into an aware datetime, inferring the year.

    The log has no year. With ``reference`` (the run's start time, or any moment shortly before the log's
    first line) the year is ``reference.year``, or the next year when that would put the entry more than a
    day before ``reference`` (a run crossing New Year). Without it, "now" is the reference and the year is
    the latest one that does not put the entry more than a day in the future.
    """
    try:
        month = _MONTHS[timestamp[0:3]]
        day = int(timestamp[4:6])
        hh, mm, ss, ms = int(timestamp[7:9]), int(timestamp[10:12]), int(timestamp[13:15]), int(timestamp[16:19])
    except (KeyError, ValueError):
        return None
    if len(timestamp) != 19:
        return None

    def at(year: int) -> datetime | None:
        try:
            return datetime(year, month, day, hh, mm, ss, ms * 1000, tzinfo=tz)
        except ValueError:  # Feb-29 in a non-leap year, or out of range values
            return None

    slack = timedelta(days=1)
    if reference is not None:
        ref = reference if reference.tzinfo is not None else reference.replace(tzinfo=tz)
        for year in (ref.year, ref.year + 1):
            dt = at(year)
            if dt is not None and dt >= ref - slack:
                return dt
        return at(ref.year)
    now = datetime.now(tz)
    for year in (now.year, now.year - 1, now.year - 2, now.year - 3, now.year - 4):
        dt = at(year)
        if dt is not None and dt <= now + slack:
            return dt
    return None


def cut_long_lines(raw: bytes, max_line: int = MAX_LINE_BYTES) -> bytes:
    """Each line longer than ``max_line`` bytes cut there, with a marker (a run writes its log: a line may
    be any length; offsets still cover the whole line)."""
    return b"\n".join(
        cut_line(line[:max_line], len(line) - max_line) if len(line) > max_line else line for line in raw.split(b"\n")
    )


def _entry(
    data: bytes,
    start: int,
    end: int,
    base_offset: int,
    header: re.Match[bytes] | None,
    reference: datetime | None,
    tz: tzinfo,
) -> LogEntry:
    """Build the entry spanning ``data[start:end]`` (``header`` matched at ``start``, or an orphan)."""
    body_start = header.end() if header is not None else start
    raw = data[body_start:end]
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > MAX_LINE_BYTES:
        raw = cut_long_lines(raw)
    message = raw.decode("utf-8", "replace")
    if "\r\n" in message:
        message = message.replace("\r\n", "\n")
    if header is None:
        return LogEntry(base_offset + start, base_offset + end, "", None, "", "", "", message)
    ts = header.group("ts").decode("ascii")
    return LogEntry(
        offset=base_offset + start,
        end_offset=base_offset + end,
        timestamp=ts,
        time=parse_log_timestamp(ts, reference=reference, tz=tz),
        level=header.group("level").decode("ascii"),
        thread=header.group("thread").decode("utf-8", "replace"),
        logger=header.group("logger").decode("utf-8", "replace"),
        message=message,
    )


def iter_log_entries(
    data: bytes,
    base_offset: int = 0,
    final: bool = False,
    *,
    reference: datetime | None = None,
    tz: tzinfo = UTC,
) -> Iterator[LogEntry]:
    """Yield the complete entries of ``data`` (bytes of the file from ``base_offset``), lazily.

    See :func:`parse_log_chunk` for what "complete" means.
    """
    if final:
        limit = len(data)
    else:
        limit = data.rfind(b"\n") + 1  # only whole lines; a partial last line waits for its newline
        if limit == 0:
            return
    prev_start = 0
    prev_header: re.Match[bytes] | None = None
    for m in _ENTRY_RE.finditer(data, 0, limit):
        start = m.start()
        if start > prev_start or prev_header is not None:
            # the previous entry (or the orphan lines before the first header) ends where this one starts
            yield _entry(data, prev_start, start, base_offset, prev_header, reference, tz)
        prev_start, prev_header = start, m
    if final and (limit > prev_start):
        yield _entry(data, prev_start, limit, base_offset, prev_header, reference, tz)


def parse_log_chunk(
    data: bytes,
    base_offset: int = 0,
    final: bool = False,
    *,
    limit: int | None = None,
    reference: datetime | None = None,
    tz: tzinfo = UTC,
) -> tuple[list[LogEntry], int]:
    """Parse ``data``, the bytes of the log starting at file offset ``base_offset``.

    Returns the complete entries and the offset up to which bytes were consumed (the ``end_offset`` of
    the last entry returned, or ``base_offset`` if none). Unless ``final`` (the log will not grow again),
    the last entry is held back, since its continuation lines may still be on their way, and a partial
    last line (no newline) is never consumed. Resuming with ``data`` starting at the consumed offset
    yields exactly the entries a one-shot parse of the whole file would give after those returned.
    ``limit`` caps the number of entries (the consumed offset then stops after the last one returned).
    Invalid UTF-8 is decoded with replacement characters, offsets stay byte-exact.
    """
    if limit is not None and limit <= 0:
        return [], base_offset
    entries: list[LogEntry] = []
    for entry in iter_log_entries(data, base_offset, final, reference=reference, tz=tz):
        entries.append(entry)
        if limit is not None and len(entries) >= limit:
            break
    consumed = entries[-1].end_offset if entries else base_offset
    return entries, consumed
