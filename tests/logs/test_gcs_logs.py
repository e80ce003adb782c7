"""The Logs service on Cloud Storage: the real client against fake-gcs-server, reads by byte ranges only.

The orchestrator re-uploads the whole log every few seconds (each upload a new object generation); the
service must read only the bytes it has not seen, never the whole object again.
"""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from arc.logs.v1 import logs_service_pb2
from arc_core.storage import GcsStorage
from services.logs.log_parser import parse_log_chunk
from tests.logs.conftest import ALICE, BOB, LogsServer, end_run, fixture_bytes, insert_run, serve_logs
from tests.support.fake_gcs import FakeGcs, run_fake_gcs

LOG = fixture_bytes("nextflow.log")


class RecordingStorage(GcsStorage):
    """GcsStorage that records what it reads."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.ranges: list[tuple[str, int, int | None]] = []
        self.whole: list[str] = []

    async def read_range(self, key: str, start: int, end: int | None = None) -> bytes:
        self.ranges.append((key, start, end))
        return await super().read_range(key, start, end)

    async def read_bytes(self, key: str) -> bytes:
        self.whole.append(key)
        return await super().read_bytes(key)


@pytest.fixture(scope="module")
def fake_gcs() -> Iterator[FakeGcs]:
    with run_fake_gcs() as gcs:
        yield gcs


@pytest.fixture
def gcs(fake_gcs: FakeGcs) -> RecordingStorage:
    return RecordingStorage(fake_gcs.root(f"t-{uuid.uuid4().hex[:8]}"), client=fake_gcs.client)


@pytest.fixture
async def server(platform, gcs) -> AsyncIterator[LogsServer]:  # type: ignore[no-untyped-def]
    async with serve_logs(platform, storage=gcs) as running:
        yield running


async def test_a_growing_log_is_followed_by_ranged_reads(server, gcs, runs_service) -> None:
    run_id = await insert_run(runs_service)
    key = f"runs/{run_id}/logs/nextflow.log"
    # Uploads hold whole entries (Nextflow writes each event, stack trace and all, in one write).
    starts = [e.offset for e in parse_log_chunk(LOG, 0, final=True)[0]]
    cuts = [next(o for o in starts if o >= n) for n in (600, 1500, 2600)]
    await gcs.write_bytes(key, LOG[: cuts[0]])
    call = server.stub.StreamWorkflowLog(logs_service_pb2.StreamWorkflowLogRequest(run_id=run_id), metadata=ALICE)
    received = []

    async def read_until(offset: int) -> None:
        while not received or received[-1].end_offset < offset:
            received.extend((await asyncio.wait_for(call.read(), 5)).entries)

    await read_until(cuts[0])
    for cut in cuts[1:]:
        await gcs.write_bytes(key, LOG[:cut])  # a new generation with more bytes
        await read_until(cut)
    await end_run(runs_service, run_id, "failed")
    await gcs.write_bytes(key, LOG)  # the final upload
    while (batch := await asyncio.wait_for(call.read(), 5)) is not grpc.aio.EOF:
        received.extend(batch.entries)

    expected, _ = parse_log_chunk(LOG, 0, final=True)
    assert [(e.offset, e.message) for e in received] == [(e.offset, e.message) for e in expected]
    assert key not in gcs.whole
    log_reads = [(s, e) for k, s, e in gcs.ranges if k == key]
    content_reads = [(s, e) for s, e in log_reads if e is None or e - s != 256 or s == 0]
    starts = [s for s, _ in content_reads]
    assert starts == sorted(starts) and starts[0] == 0 and starts.count(0) == 1  # never from the start again
    # Only the held-back last entry of a version is read again with the next one.
    read = sum((e or len(LOG)) - s for s, e in content_reads)
    assert read < 1.5 * len(LOG), f"read {read} bytes of a {len(LOG)}-byte log"


async def test_pages_tasks_and_task_logs_on_gcs(server, gcs, runs_service) -> None:
    run_id = await insert_run(runs_service)
    await gcs.write_bytes(f"runs/{run_id}/logs/nextflow.log", LOG)
    trace = fixture_bytes("trace_default.txt").splitlines(keepends=True)
    trace_key = f"runs/{run_id}/logs/trace.txt"
    await gcs.write_bytes(trace_key, b"".join(trace[:3]))
    await gcs.write_bytes(f"runs/{run_id}/work/4e/1ab2cd5f0c2b9e8a7d6c5b4a392817/.command.out", b"fastqc done\n")
    await gcs.write_bytes(f"runs/{run_id}/work/4e/1ab2cd5f0c2b9e8a7d6c5b4a392817/.command.err", b"")
    await gcs.write_bytes(f"runs/{run_id}/work/4e/99999999999999999999999999999/.command.out", b"other task\n")
    stub = server.stub

    page = await stub.GetWorkflowLog(
        logs_service_pb2.GetWorkflowLogRequest(run_id=run_id, offset=0, limit=4), metadata=ALICE
    )
    assert len(page.entries) == 4 and page.next_offset == page.entries[-1].end_offset
    tasks = await stub.ListTasks(logs_service_pb2.ListTasksRequest(run_id=run_id), metadata=ALICE)
    assert [t.task_id for t in tasks.tasks] == ["2", "1"]
    await gcs.write_bytes(trace_key, b"".join(trace))  # a new generation: only the new rows are read
    tasks = await stub.ListTasks(logs_service_pb2.ListTasksRequest(run_id=run_id), metadata=ALICE)
    # Never the whole object: one ranged read from 0 parsed it, one from just before the old end grew it.
    assert tasks.total_size == 8 and trace_key not in gcs.whole
    assert [s for k, s, _ in gcs.ranges if k == trace_key] == [0, len(b"".join(trace[:3])) - 64]

    logs = await stub.GetTaskLogs(logs_service_pb2.GetTaskLogsRequest(run_id=run_id, task_id="1"), metadata=ALICE)
    assert (logs.stdout, logs.stderr, logs.truncated) == ("fastqc done\n", "", False)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetTaskLogs(logs_service_pb2.GetTaskLogsRequest(run_id=run_id, task_id="1"), metadata=BOB)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    await end_run(runs_service, run_id, "failed")
    call = stub.DownloadLogArchive(logs_service_pb2.DownloadLogArchiveRequest(run_id=run_id), metadata=ALICE)
    data = b"".join([c.data async for c in call])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["nextflow.log", "trace.txt"]
        assert zf.read("nextflow.log") == LOG and zf.read("trace.txt") == b"".join(trace)
