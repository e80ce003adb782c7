"""Hostile traces and logs (a run's own code writes them): memory stays bounded whatever they hold.

Lines are cut at 64 KiB with a marker and never read whole, a trace keeps at most ``max_trace_rows`` rows
(the rest are counted in progress and reported as ``truncated_rows``), and files are read in chunks. The
bound on memory is measured with ``tracemalloc`` (its peak, in every thread, while the parse runs): a bound
on bytes, not on time. Big inputs are written to ``tmp_path`` in chunks and removed afterwards.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from arc.logs.v1 import logs_service_pb2
from arc_core.storage import LocalStorage
from services.logs.lines import CUT_MARKER, MAX_LINE_BYTES, LineSplitter
from services.logs.runs import RunView
from services.logs.tasks import MAX_TASK_NAME_BYTES, TaskStore, log_key, trace_key
from services.logs.trace_parser import ProcessProgress
from services.logs.workflow_log import WorkflowLogReader
from tests.logs.conftest import ALICE, end_run, insert_run, put

MB = 1 << 20
MEMORY_BOUND = 32 * MB
T = TypeVar("T")


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of traced allocations inside the block (``result[0]`` after it)."""
    result: list[int] = []
    tracemalloc.start()
    try:
        yield result
    finally:
        result.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


async def bounded(call: Callable[[], Awaitable[T]]) -> T:
    with peak_memory() as peak:
        value = await call()
    assert peak[0] < MEMORY_BOUND, f"peak {peak[0] / MB:.1f} MB"
    return value


def write_chunks(path: Path, parts: Iterable[bytes]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with open(path, "wb") as fh:
        for part in parts:
            fh.write(part)
            size += len(part)
    return size


def repeat_bytes(byte: bytes, total: int, chunk: int = MB) -> Iterator[bytes]:
    block = byte * chunk
    for start in range(0, total, chunk):
        yield block[: min(chunk, total - start)]


def trace_rows(n: int, *, first: int = 1, per_chunk: int = 10_000) -> Iterator[bytes]:
    """Rows of a minimal trace: three processes, every fifth task failed."""
    for start in range(first, first + n, per_chunk):
        stop = min(first + n, start + per_chunk)
        yield "".join(
            f"{i}\tP{i % 3} (s{i})\t{'FAILED' if i % 5 == 0 else 'COMPLETED'}\n" for i in range(start, stop)
        ).encode()


def expected_progress(n: int) -> dict[str, tuple[int, int, int]]:
    """(total, succeeded, failed) by process for rows 1..n of :func:`trace_rows`."""
    out: dict[str, list[int]] = {}
    for i in range(1, n + 1):
        counts = out.setdefault(f"P{i % 3}", [0, 0, 0])
        counts[0] += 1
        counts[2 if i % 5 == 0 else 1] += 1
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def progress_of(progress: Iterable[ProcessProgress]) -> dict[str, tuple[int, int, int]]:
    return {p.process: (p.total, p.succeeded, p.failed) for p in progress}


# --- lines ---------------------------------------------------------------------------------------------------


def test_lines_across_chunks_and_a_cut_line_with_its_marker() -> None:
    lines = LineSplitter(max_line=8)
    assert lines.feed(b"ab") == []
    assert lines.feed(b"c\nde") == [b"abc"]
    assert lines.feed(b"fghijklmnop") == []  # the line being read: 8 bytes kept, the rest dropped
    assert lines.pending == 13
    assert lines.feed(b"q\nshort\n0123456789\n") == [
        b"defghijk [line cut: 6 more bytes]",
        b"short",
        b"01234567 [line cut: 2 more bytes]",
    ]
    assert lines.flush() is None
    assert lines.feed(b"tail-without-newline") == []
    assert lines.flush() == b"tail-wit [line cut: 12 more bytes]"
    assert lines.cut_lines == 3


def test_a_50_mb_line_without_newline_streams_through_in_bounded_memory() -> None:
    lines = LineSplitter()
    block = b"x" * MB
    with peak_memory() as peak:
        for _ in range(50):
            assert lines.feed(block) == []
        assert lines.pending == 50 * MB
        (cut, after) = lines.feed(b"\nafter\n")
    assert peak[0] < MEMORY_BOUND
    assert cut == b"x" * MAX_LINE_BYTES + CUT_MARKER + str(50 * MB - MAX_LINE_BYTES).encode() + b" more bytes]"
    assert after == b"after"


# --- traces --------------------------------------------------------------------------------------------------


async def test_a_trace_with_a_50_mb_line(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    path = storage.root / "runs" / "run-0000000a" / "logs" / "trace.txt"
    head = b"task_id\tname\tstatus\n1\tFASTQC (s1)\tCOMPLETED\n2\tFASTQC (s2)\tFAILED\n3\tFASTQC ("
    write_chunks(path, [head, *repeat_bytes(b"x", 50 * MB)])  # no newline: still being written
    try:
        growing = await bounded(lambda: TaskStore(storage).trace("run-0000000a"))
        assert growing is not None and [t.task_id for t in growing.tasks] == ["1", "2"]
        final = await bounded(lambda: TaskStore(storage).trace("run-0000000a", final=True))
        assert final is not None and [t.task_id for t in final.tasks] == ["1", "2", "3"]
        third = final.tasks[2]
        assert third.name is not None and "[line cut: " in third.name and len(third.name) < MAX_LINE_BYTES + 64
        assert progress_of(final.progress)["FASTQC"] == (2, 1, 1)  # the cut row has no status left
    finally:
        path.unlink()


async def test_list_tasks_on_a_trace_with_a_50_mb_line(logs, runs_service, storage) -> None:
    run_id = await insert_run(runs_service)
    path = storage.root / "runs" / run_id / "logs" / "trace.txt"
    head = b"task_id\tname\tstatus\n1\tFASTQC (s1)\tCOMPLETED\n2\tFASTQC (s2)\tFAILED\n3\tFASTQC ("
    write_chunks(path, [head, *repeat_bytes(b"x", 50 * MB)])
    request = logs_service_pb2.ListTasksRequest(run_id=run_id)
    try:
        growing = await bounded(lambda: logs.ListTasks(request, metadata=ALICE))
        assert [t.task_id for t in growing.tasks] == ["1", "2"] and growing.total_size == 2
        with open(path, "ab") as fh:
            fh.write(b")\tCOMPLETED\n")  # the line ends: its row is kept, cut, with its marker
        grown = await bounded(lambda: logs.ListTasks(request, metadata=ALICE))
        assert [t.task_id for t in grown.tasks] == ["1", "2", "3"]
        assert "[line cut: " in grown.tasks[2].name and len(grown.tasks[2].name) < MAX_LINE_BYTES + 64
    finally:
        path.unlink()


async def test_a_trace_of_300k_rows_keeps_at_most_the_row_limit(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    path = storage.root / "runs" / "run-0000000b" / "logs" / "trace.txt"
    write_chunks(path, [b"task_id\tname\tstatus\n", *trace_rows(300_000)])
    store = TaskStore(storage, max_trace_rows=10_000)
    try:
        trace = await bounded(lambda: store.trace("run-0000000b"))
        assert trace is not None
        assert len(trace.tasks) == 10_000 and trace.tasks[-1].task_id == "10000"
        assert trace.truncated_rows == 290_000
        assert progress_of(trace.progress) == expected_progress(300_000)  # counted, though not kept

        with open(path, "ab") as fh:  # the trace grows: only the appended rows are read, and counted
            for part in trace_rows(5, first=300_001):
                fh.write(part)
        grown = await bounded(lambda: store.trace("run-0000000b"))
        assert grown is not None and len(grown.tasks) == 10_000 and grown.truncated_rows == 290_005
        assert progress_of(grown.progress) == expected_progress(300_005)
    finally:
        path.unlink()


async def test_the_default_row_limit(tmp_path: Path) -> None:
    assert TaskStore(LocalStorage(tmp_path)).max_trace_rows == 200_000


async def test_list_tasks_reports_rows_past_the_limit(logs, runs_service, logs_service, monkeypatch) -> None:
    monkeypatch.setattr(logs_service.tasks, "max_trace_rows", 1_000)
    run_id = await insert_run(runs_service)
    await put(logs_service.storage, run_id, "trace.txt", b"task_id\tname\tstatus\n" + b"".join(trace_rows(4_000)))
    await end_run(runs_service, run_id, "completed")
    response = await logs.ListTasks(logs_service_pb2.ListTasksRequest(run_id=run_id, page_size=500), metadata=ALICE)
    assert response.total_size == 1_000 and len(response.tasks) == 500 and response.next_page_token
    assert response.truncated_rows == 3_000
    assert progress_of(response.progress) == expected_progress(4_000)


def submission(i: int, name: str) -> str:
    return f"Dec-03 08:00:00.000 [Task submitter] INFO  nextflow.Session - [ab/{i:06x}] Submitted process > {name}\n"


def running(run_id: str) -> RunView:
    return RunView(run_id=run_id, status="running", started_at=datetime(2026, 12, 3, tzinfo=UTC))


async def test_rows_past_the_limit_end_their_submissions(tmp_path: Path) -> None:
    """Was total=6, submitted=2 for 4 ended tasks: the submissions of rows past ``max_trace_rows`` (counted,
    not kept) were never pruned, so they showed as in flight too, and stayed for the life of the run."""
    storage = LocalStorage(tmp_path / "storage")
    run_id = "run-0000000d"
    trace = "task_id\thash\tname\tstatus\n" + "".join(
        f"{i + 1}\tab/{i:06x}\tFASTQC (s{i})\tCOMPLETED\n" for i in range(4)
    )
    log = "".join(submission(i, f"FASTQC (s{i})") for i in range(5))  # the fifth has no row yet
    write_chunks(storage.root / trace_key(run_id), [trace.encode()])
    write_chunks(storage.root / log_key(run_id), [log.encode()])
    for rows in (200_000, 2):
        store = TaskStore(storage, max_trace_rows=rows)
        parsed = await store.trace(run_id)
        assert parsed is not None and len(parsed.tasks) == min(rows, 4)
        (fastqc,) = await store.progress(running(run_id), parsed)
        assert (fastqc.total, fastqc.succeeded, fastqc.submitted) == (5, 4, 1), rows
        assert [s.hash for s in await store.in_flight(running(run_id), parsed)] == ["ab/000004"]


async def test_submission_names_are_cut(tmp_path: Path) -> None:
    """A submission's name holds the task's tag (a sample name the caller chose): 20 lines of 3 MB each
    were kept whole, 60 MB for one run. Each name is cut to 1 KiB now, with the marker of a cut line."""
    storage = LocalStorage(tmp_path / "storage")
    run_id = "run-0000000e"
    path = storage.root / log_key(run_id)
    write_chunks(path, (submission(i, "FASTQC (" + "N" * (3 * MB) + ")").encode() for i in range(20)))
    try:
        store = TaskStore(storage)
        pending = await bounded(lambda: store.in_flight(running(run_id), None))
        assert len(pending) == 20
        for s in pending:
            assert s.name.startswith("FASTQC (NNN") and "[line cut: " in s.name
            assert len(s.name.encode()) < MAX_TASK_NAME_BYTES + 64
    finally:
        path.unlink()


async def test_tasks_in_flight_are_capped(tmp_path: Path) -> None:
    """Past ``max_pending`` submissions without a trace row, the oldest are dropped (and counted); the
    ended tasks of a long log read from its start are left out as it is read, so they take no room."""
    storage = LocalStorage(tmp_path / "storage")
    run_id = "run-0000000f"
    log = "".join(submission(i, f"P (s{i})") for i in range(5_000))
    write_chunks(storage.root / log_key(run_id), [log.encode()])
    store = TaskStore(storage, max_pending=1_000, log_window_bytes=64 << 10)
    pending = await store.in_flight(running(run_id), None)
    assert len(pending) == 1_000 and pending[-1].hash == f"ab/{4_999:06x}" and pending[0].hash == f"ab/{4_000:06x}"
    assert store._logs[storage.uri(log_key(run_id))].dropped == 4_000

    trace = "task_id\thash\tname\tstatus\n" + "".join(
        f"{i + 1}\tab/{i:06x}\tP (s{i})\tCOMPLETED\n" for i in range(4_990)
    )
    write_chunks(storage.root / trace_key(run_id), [trace.encode()])
    fresh = TaskStore(storage, max_pending=100, max_trace_rows=1_000, log_window_bytes=64 << 10)
    parsed = await fresh.trace(run_id)
    pending = await fresh.in_flight(running(run_id), parsed)
    assert [s.hash for s in pending] == [f"ab/{i:06x}" for i in range(4_990, 5_000)]
    assert fresh._logs[storage.uri(log_key(run_id))].dropped == 0


# --- the workflow log ----------------------------------------------------------------------------------------

ENTRY = "May-01 12:00:0{i}.000 [main] INFO  nextflow.cli.CmdRun - {message}\n"


def huge_log(line_bytes: int) -> Iterator[bytes]:
    yield ENTRY.format(i=1, message="before").encode()
    yield ENTRY.format(i=2, message="").encode()[:-1]
    yield from repeat_bytes(b"y", line_bytes)
    yield b"\n" + ENTRY.format(i=3, message="after").encode()


def check_entries(entries: list, size: int, *, proto: bool = False) -> None:  # type: ignore[type-arg]
    assert entries[0].message == "before" and entries[-1].message == "after"
    assert entries[-1].end_offset == size
    for a, b in zip(entries, entries[1:], strict=False):
        assert a.end_offset == b.offset  # entries still tile the file
    # The huge line comes in pieces of up to 2 MiB (LogOptions.max_entry_bytes), each cut to 64 KiB of text.
    pieces = entries[1:-1]
    assert all(len(entry.message.encode()) < MAX_LINE_BYTES + 64 for entry in pieces)
    assert all("[line cut: " in entry.message for entry in pieces[:-1])
    assert entries[1].level == "INFO"  # the first piece of the huge line keeps its header
    assert entries[1].HasField("timestamp") if proto else entries[1].timestamp == "May-01 12:00:02.000"


async def test_a_workflow_log_with_a_50_mb_line(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage")
    path = storage.root / "runs" / "run-0000000c" / "logs" / "nextflow.log"
    size = write_chunks(path, huge_log(50 * MB))
    ended = datetime(2024, 5, 1, 13, tzinfo=UTC)
    run = RunView(run_id="run-0000000c", status="completed", started_at=ended, ended_at=ended)
    try:
        page = await bounded(lambda: WorkflowLogReader(storage).page(run, 0, 1000))
        check_entries(page.entries, size)
        assert page.complete and page.next_offset == size
        assert len(page.entries) < 40  # 2 MiB a piece, 64 KiB of text each
    finally:
        path.unlink()


async def test_get_workflow_log_pages_a_huge_line(logs, runs_service, logs_service) -> None:
    run_id = await insert_run(runs_service)
    data = b"".join(huge_log(5 * MB))
    await end_run(runs_service, run_id, "completed")
    await put(logs_service.storage, run_id, "nextflow.log", data)  # the final upload, after the run's end
    entries, offset, complete = [], 0, False
    for _ in range(20):
        page = await logs.GetWorkflowLog(
            logs_service_pb2.GetWorkflowLogRequest(run_id=run_id, offset=offset, limit=2), metadata=ALICE
        )
        entries.extend(page.entries)
        offset, complete = page.next_offset, page.complete
        if complete:
            break
    assert complete
    check_entries(entries, len(data), proto=True)


@pytest.mark.parametrize("line_bytes", [MAX_LINE_BYTES, MAX_LINE_BYTES + 1])
def test_the_line_limit_is_exact(line_bytes: int) -> None:
    lines = LineSplitter()
    (line,) = lines.feed(b"z" * line_bytes + b"\n")
    assert (CUT_MARKER in line) == (line_bytes > MAX_LINE_BYTES)
