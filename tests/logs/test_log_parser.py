"""Tests for services.logs.log_parser on a realistic .nextflow.log."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.logs.log_parser import LogEntry, iter_log_entries, parse_log_chunk, parse_log_timestamp

FIXTURES = Path(__file__).parent / "fixtures"
LOG = (FIXTURES / "nextflow.log").read_bytes()
REF = datetime(2024, 5, 1, 11, 59, tzinfo=UTC)
P = "NFCORE_SCRNASEQ:SCRNASEQ:"


def one_shot(data: bytes, **kw: object) -> list[LogEntry]:
    entries, consumed = parse_log_chunk(data, 0, True, **kw)  # type: ignore[arg-type]
    assert consumed == len(data)
    return entries


def assert_tiles(entries: list[LogEntry], start: int, end: int) -> None:
    """Entries cover [start, end) exactly, in order, without gaps or overlaps."""
    pos = start
    for e in entries:
        assert e.offset == pos and e.end_offset > e.offset
        pos = e.end_offset
    assert pos == end


# ----------------------------------------------------------------------------------- one-shot parse


def test_fixture_entries() -> None:
    entries = one_shot(LOG, reference=REF)
    assert len(entries) == 23
    assert_tiles(entries, 0, len(LOG))
    for e in entries:
        assert LOG[e.offset : e.end_offset].startswith(e.timestamp.encode())

    first = entries[0]
    assert (first.timestamp, first.level, first.thread, first.logger) == (
        "May-01 12:00:00.512",
        "DEBUG",
        "main",
        "nextflow.cli.Launcher",
    )
    assert first.time == datetime(2024, 5, 1, 12, 0, 0, 512_000, tzinfo=UTC)
    assert first.message.startswith("$> nextflow run nf-core/scrnaseq -r 2.7.1")

    launching = entries[3]
    assert (launching.level, launching.logger) == ("INFO", "nextflow.cli.CmdRun")  # "INFO " padding
    assert launching.message.startswith("Launching `https://github.com/nf-core/scrnaseq` [angry_curie]")
    assert entries[4].level == "WARN"

    banner = entries[8]  # "... CmdRun - " followed by indented lines
    assert banner.message.startswith("\n  Version: 24.04.2 build 5914\n")
    assert banner.message.endswith("CPUs: 2 - Mem: 7.8 GB (6.1 GB) - Swap: 0 (0)")

    submitter = entries[10]
    assert (submitter.thread, submitter.logger) == ("Task submitter", "n.executor.local.LocalTaskHandler")


def test_error_block_is_one_entry() -> None:
    entries = one_shot(LOG, reference=REF)
    (err,) = [e for e in entries if e.message.startswith("Error executing process >")]
    assert (err.level, err.thread, err.logger) == ("ERROR", "Task monitor", "nextflow.processor.TaskProcessor")
    assert err.timestamp == "May-01 13:38:44.019"
    lines = err.message.split("\n")
    assert lines[0] == f"Error executing process > '{P}SCRNASEQ_ALEVIN:ALEVINQC (pbmc_1k)'"
    assert "Caused by:" in lines and "Command exit status:" in lines and "Work dir:" in lines
    assert "  require(alevinQC)" in lines
    assert lines[-1].startswith("Tip: you can replicate the issue")
    nxt = entries[entries.index(err) + 1]
    assert nxt.message.startswith("Session aborted -- Cause:")


def test_java_stack_trace_is_one_entry() -> None:
    entries = one_shot(LOG, reference=REF)
    (st,) = [e for e in entries if e.thread == "Actor Thread 14"]
    assert (st.level, st.logger, st.message.split("\n")[0]) == ("ERROR", "nextflow.extension.OperatorImpl", "@unknown")
    lines = st.message.split("\n")
    assert lines[1] == "java.lang.InterruptedException: null"
    assert lines[2].startswith("\tat java.base/java.util.concurrent.locks.AbstractQueuedSynchronizer")
    assert "Caused by: java.util.concurrent.CancellationException: Session aborted" in lines
    assert lines[-1] == "\t... 12 common frames omitted"


def test_thread_with_brackets_and_empty_message() -> None:
    data = (
        b"Jun-02 08:00:00.000 [pool-2-thread-1 [x]] DEBUG nextflow.Foo - hello ] INFO  x - y\n"
        b"Jun-02 08:00:00.001 [main] TRACE nextflow.Bar - \n"
        b"Jun-02 08:00:00.002 [main] INFO  nextflow.Baz -\n"
    )
    a, b, c = one_shot(data)
    assert (a.thread, a.level, a.logger, a.message) == (
        "pool-2-thread-1 [x]",
        "DEBUG",
        "nextflow.Foo",
        "hello ] INFO  x - y",
    )
    assert (b.level, b.message) == ("TRACE", "")
    assert (c.logger, c.message) == ("nextflow.Baz", "")


def test_crlf_lines() -> None:
    data = (
        b"May-01 12:00:00.000 [main] ERROR nextflow.X - boom\r\n"
        b"\tat a.b(C.java:1)\r\n"
        b"May-01 12:00:01.000 [main] INFO  nextflow.Y - ok\r\n"
    )
    a, b = one_shot(data)
    assert a.message == "boom\n\tat a.b(C.java:1)" and b.message == "ok"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    data = (
        b"May-01 12:00:00.000 [main] INFO  nextflow.X - sample caf\xe9 \xff\xfe\n"
        b"  continuation \xc3\n"
        b"May-01 12:00:01.000 [ma\xffin] INFO  nextflow.Y - ok\n"
    )
    a, b = one_shot(data)
    assert a.message == "sample caf\ufffd \ufffd\ufffd\n  continuation \ufffd"
    assert b.thread == "ma\ufffdin" and b.offset == data.index(b"May-01 12:00:01")


def test_lines_before_the_first_header_form_an_orphan_entry() -> None:
    full = one_shot(LOG, reference=REF)
    err = next(e for e in full if e.message.startswith("Error executing"))
    start = LOG.index(b"Command exit status:")  # a line in the middle of the error block
    entries, consumed = parse_log_chunk(LOG[start:], start, True, reference=REF)
    orphan = entries[0]
    assert (orphan.offset, orphan.end_offset) == (start, err.end_offset)
    assert (orphan.timestamp, orphan.time, orphan.level, orphan.thread, orphan.logger) == ("", None, "", "", "")
    assert orphan.message.startswith("Command exit status:\n  1\n")
    assert entries[1:] == full[full.index(err) + 1 :]
    assert consumed == len(LOG)


def test_empty_and_garbage_input() -> None:
    assert parse_log_chunk(b"", 10, False) == ([], 10)
    assert parse_log_chunk(b"", 10, True) == ([], 10)
    (e,) = one_shot(b"no header at all\nstill none")
    assert e.level == "" and e.message == "no header at all\nstill none"


# ------------------------------------------------------------------------------------ incremental


def test_last_entry_is_held_back_until_the_next_starts() -> None:
    full = one_shot(LOG, reference=REF)
    entries, consumed = parse_log_chunk(LOG, 0, False, reference=REF)
    assert entries == full[:-1]
    assert consumed == full[-1].offset

    # a partial last line is never consumed, not even as a continuation
    grown = LOG + b"May-01 13:38:45.001 [main] DEBUG nextflow.Session - half a li"
    entries2, consumed2 = parse_log_chunk(grown, 0, False, reference=REF)
    assert (entries2, consumed2) == (entries, consumed)
    # its newline arrives: the previous last entry is now complete, the new one is held back
    grown += b"ne\n"
    entries3, consumed3 = parse_log_chunk(grown, 0, False, reference=REF)
    assert entries3 == full and consumed3 == len(LOG)
    # the run ended: everything is consumed
    entries4, consumed4 = parse_log_chunk(grown[consumed3:], consumed3, True, reference=REF)
    assert [e.message for e in entries4] == ["half a line"] and consumed4 == len(grown)


def test_partial_line_only_is_not_consumed() -> None:
    assert parse_log_chunk(b"May-01 12:00:00.000 [main] INFO  nextflow.X - hel", 42, False) == ([], 42)
    # a continuation that is still growing keeps the whole entry back
    data = b"May-01 12:00:00.000 [main] ERROR nextflow.X - boom\n\tat a.b(C.java:1)\n\tat c.d"
    assert parse_log_chunk(data, 0, False) == ([], 0)


def test_limit() -> None:
    full = one_shot(LOG, reference=REF)
    entries, consumed = parse_log_chunk(LOG, 0, False, limit=5, reference=REF)
    assert entries == full[:5] and consumed == full[4].end_offset
    rest, _ = parse_log_chunk(LOG[consumed:], consumed, True, reference=REF)
    assert rest == full[5:]
    assert parse_log_chunk(LOG, 7, True, limit=0) == ([], 7)


def _log_with_extras() -> bytes:
    """The fixture plus UTF-8 multi-byte text (to be split by chunks) and invalid bytes."""
    return (
        LOG
        + "May-01 13:38:45.000 [main] INFO  nextflow.X - échantillon µ-ß 試料 ✓\n".encode()
        + b"May-01 13:38:45.001 [main] WARN  nextflow.X - bad \xff bytes\n  more \xe2\x9c\n"
        + b"May-01 13:38:45.002 [main] DEBUG nextflow.X - last line without newline"
    )


@pytest.mark.parametrize("seed", range(25))
def test_random_chunks_match_one_shot(seed: int) -> None:
    """A client following a growing file in random chunks, sometimes reconnecting, sees each entry once."""
    rnd = random.Random(seed)
    data = _log_with_extras()
    expected = one_shot(data, reference=REF)

    got: list[LogEntry] = []
    offset = 0  # what the client resumes from (e.g. SSE Last-Event-ID)
    buffer = b""  # bytes from `offset` the client has read so far
    size = 0  # how much of the file exists yet
    while size < len(data):
        size = min(len(data), size + rnd.choice([1, 2, 3, 7, 50, 333, 4096]))
        if rnd.random() < 0.15:
            buffer = data[offset:size]  # reconnect: re-read from the last position
        else:
            buffer += data[offset + len(buffer) : size]  # incremental ranged read
        entries, consumed = parse_log_chunk(buffer, offset, False, reference=REF)
        if entries:
            assert entries[0].offset == offset
        got.extend(entries)
        buffer = buffer[consumed - offset :]
        offset = consumed
    entries, consumed = parse_log_chunk(buffer, offset, True, reference=REF)
    got.extend(entries)

    assert consumed == len(data)
    assert got == expected
    assert_tiles(got, 0, len(data))


def test_iter_log_entries_is_a_generator_with_base_offset() -> None:
    it = iter_log_entries(LOG, 100, True, reference=REF)
    first = next(it)
    assert first.offset == 100 and first.level == "DEBUG"
    assert [first, *it] == [
        LogEntry(**{**vars_of(e), "offset": e.offset + 100, "end_offset": e.end_offset + 100})
        for e in one_shot(LOG, reference=REF)
    ]


def vars_of(e: LogEntry) -> dict[str, object]:
    return {name: getattr(e, name) for name in LogEntry.__slots__}


# ------------------------------------------------------------------------------------- timestamps


def test_year_inference_with_reference() -> None:
    assert parse_log_timestamp("May-01 12:00:00.512", reference=REF) == datetime(
        2024, 5, 1, 12, 0, 0, 512_000, tzinfo=UTC
    )
    new_year = datetime(2024, 12, 31, 23, 50, tzinfo=UTC)
    assert parse_log_timestamp("Dec-31 23:59:59.999", reference=new_year).year == 2024
    assert parse_log_timestamp("Jan-01 00:00:01.000", reference=new_year) == datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)
    # slightly before the reference (clock skew) stays in the reference year
    assert parse_log_timestamp("Dec-31 23:40:00.000", reference=new_year).year == 2024
    assert parse_log_timestamp("Feb-29 10:00:00.000", reference=datetime(2023, 1, 1, tzinfo=UTC)) == datetime(
        2024, 2, 29, 10, tzinfo=UTC
    )


def test_year_inference_without_reference_and_zones() -> None:
    now = datetime.now(UTC)
    recent = now - timedelta(hours=3)
    ts = recent.strftime("%b-%d %H:%M:%S.") + f"{recent.microsecond // 1000:03d}"
    assert parse_log_timestamp(ts) == recent.replace(microsecond=recent.microsecond // 1000 * 1000)
    future = now + timedelta(days=5)
    ts = future.strftime("%b-%d %H:%M:%S.000")
    assert parse_log_timestamp(ts) < now  # cannot be in the future: last year's
    plus2 = timezone(timedelta(hours=2))
    assert parse_log_timestamp("May-01 14:00:00.000", reference=REF, tz=plus2) == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("ts", ["Foo-01 12:00:00.000", "May-32 12:00:00.000", "May-01 25:00:00.000", "May-01 12:00"])
def test_bad_timestamps(ts: str) -> None:
    assert parse_log_timestamp(ts, reference=REF) is None


def test_entries_with_unparseable_time_still_parse() -> None:
    (e,) = one_shot(b"Feb-30 12:00:00.000 [main] INFO  nextflow.X - impossible date\n", reference=REF)
    assert e.timestamp == "Feb-30 12:00:00.000" and e.time is None and e.message == "impossible date"
