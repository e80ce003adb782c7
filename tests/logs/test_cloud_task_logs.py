"""Task logs from Cloud Logging: the real client against a local LoggingServiceV2 server, filters asserted.

The Logs service runs on a server of its own wired by settings (``ARC_TASK_LOGS=cloud``, the emulator host,
the project), calling the platform's Runs for access.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.api_core import retry_async
from google.cloud.logging_v2 import types

from arc.logs.v1 import logs_service_pb2
from services.logs.cloud_task_logs import CloudLoggingTaskLogs
from tests.logs.conftest import (
    ALICE,
    BOB,
    LogsServer,
    append_local,
    end_run,
    fixture_bytes,
    insert_run,
    put,
    serve_logs,
)
from tests.support.fake_logging import FakeLogging, fake_logging

PROJECT = "test-project"
UID = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"  # task 2 of trace_fields.txt: nf-9dc2b310-…/0/<uid>
SUBMIT = datetime(2024, 5, 1, 13, 2, 8, 1000, tzinfo=UTC)
STDOUT, STDERR = logs_service_pb2.StreamTaskLogsResponse.STDOUT, logs_service_pb2.StreamTaskLogsResponse.STDERR


@pytest.fixture
async def fake() -> AsyncIterator[FakeLogging]:
    async with fake_logging(PROJECT) as server:
        yield server


@pytest.fixture
async def cloud(platform, fake) -> AsyncIterator[LogsServer]:  # type: ignore[no-untyped-def]
    async with serve_logs(
        platform, task_logs="cloud", logging_emulator_host=fake.address, gcp_project=PROJECT
    ) as server:
        backend = server.service.task_logs
        assert isinstance(backend, CloudLoggingTaskLogs)
        backend.poll_seconds = 0.1
        yield server


def expected_filter(uid: str, run_id: str | None, since: str, until: str | None = None) -> str:
    clauses = [
        '(resource.type="generic_task" OR resource.type="batch.googleapis.com/Job")',
        f'logName="projects/{PROJECT}/logs/batch_task_logs"',
        f'labels.job_uid="{uid}"',
        f'labels.task_id="{uid}-group0-0"',
    ]
    if run_id:
        clauses.append(f'labels."run-id"="{run_id}"')
    clauses.append(f'timestamp>="{since}"')
    if until:
        clauses.append(f'timestamp<="{until}"')
    return " AND ".join(clauses)


async def get_logs(stub, run_id: str, task_id: str, metadata=ALICE):  # type: ignore[no-untyped-def]
    return await stub.GetTaskLogs(
        logs_service_pb2.GetTaskLogsRequest(run_id=run_id, task_id=task_id), metadata=metadata
    )


async def test_reads_stdout_and_stderr_with_the_exact_filter(cloud, fake, runs_service, storage) -> None:
    run_id = await insert_run(runs_service, status="completed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_fields.txt"))
    t = SUBMIT + timedelta(minutes=3)
    for i, (text, severity) in enumerate(
        [("loading index", "INFO"), ("warning: low memory", "ERROR"), ("mapped 91%", "INFO"), ("Killed", "ERROR")]
    ):
        fake.add_task_line(text, uid=UID, run_id=run_id, at=t + timedelta(seconds=i), severity=severity)
    # Noise the filter must leave out: another task, another run, outside the window.
    fake.add_task_line("other task", uid="nf-other-uid", run_id=run_id, at=t)
    fake.add_task_line("other run", uid=UID, run_id="run-00000000", at=t)
    fake.add_task_line("way later", uid=UID, run_id=run_id, at=t + timedelta(hours=5))

    response = await get_logs(cloud.stub, run_id, "2")
    assert response.stdout == "loading index\nmapped 91%\n"
    assert response.stderr == "warning: low memory\nKilled\n"
    assert not response.truncated
    request = fake.list_requests[-1]
    # The task's window: submit 13:02:08.001, complete 13:16:20.337 (trace), plus a 5 minute margin.
    assert request.filter == expected_filter(UID, run_id, "2024-05-01T13:02:08.001Z", "2024-05-01T13:21:20.337Z")
    assert list(request.resource_names) == [f"projects/{PROJECT}"]
    assert request.order_by == "timestamp desc" and request.page_size == 1000

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get_logs(cloud.stub, run_id, "2", BOB)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get_logs(cloud.stub, run_id, "99")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_long_output_keeps_the_tail_across_pages(cloud, fake, runs_service, storage) -> None:
    run_id = await insert_run(runs_service, status="completed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_fields.txt"))
    for i in range(40):
        fake.add_task_line(f"line {i:02d}", uid=UID, run_id=run_id, at=SUBMIT + timedelta(seconds=i))
    fake.add_task_line(
        "fatal: out of memory", uid=UID, run_id=run_id, at=SUBMIT + timedelta(seconds=1), severity="ERROR"
    )
    backend = cloud.service.task_logs
    backend.page_size, backend.max_bytes = 7, 80
    before = len(fake.list_requests)
    response = await get_logs(cloud.stub, run_id, "2")
    assert response.truncated
    assert response.stdout == "".join(f"line {i:02d}\n" for i in range(30, 40))  # the last 80 bytes of lines
    assert response.stderr == "fatal: out of memory\n"
    pages = fake.list_requests[before:]
    assert len(pages) > 1 and [r.page_token for r in pages][:2] == ["", "7"]


async def test_a_cached_task_is_found_by_its_job_alone_and_local_tasks_have_no_cloud_logs(
    cloud, fake, runs_service, storage
) -> None:
    run_id = await insert_run(runs_service, status="completed")
    trace = fixture_bytes("trace_fields.txt").replace(
        b"\tCOMPLETED\t0\t-\tquay.io/biocontainers/simpleaf", b"\tCACHED\t0\t-\tquay.io/biocontainers/simpleaf"
    )
    await put(storage, run_id, "trace.txt", trace)
    uid3 = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    fake.add_task_line(
        "from the parent run", uid=uid3, run_id="run-aaaaaaaa", at=datetime(2024, 5, 1, 13, 20, tzinfo=UTC)
    )
    response = await get_logs(cloud.stub, run_id, "3")
    assert response.stdout == "from the parent run\n"
    assert 'labels."run-id"' not in fake.list_requests[-1].filter

    local_id = await insert_run(runs_service, status="completed")
    await put(storage, local_id, "trace.txt", fixture_bytes("trace_default.txt"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get_logs(cloud.stub, local_id, "2")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "Google Batch" in err.value.details()


async def test_backend_errors_are_retried_then_unavailable(cloud, fake, runs_service, storage) -> None:
    run_id = await insert_run(runs_service, status="completed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_fields.txt"))
    fake.add_task_line("hello", uid=UID, run_id=run_id, at=SUBMIT + timedelta(seconds=5))
    backend = cloud.service.task_logs
    backend.retry = retry_async.AsyncRetry(
        initial=0.01, maximum=0.05, timeout=1.0, predicate=retry_async.if_transient_error
    )
    fake.fail_with = [grpc.StatusCode.UNAVAILABLE]
    before = len(fake.list_requests)
    assert (await get_logs(cloud.stub, run_id, "2")).stdout == "hello\n"
    assert len(fake.list_requests) - before == 2  # one failure, one retry

    fake.fail_with = [grpc.StatusCode.PERMISSION_DENIED]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get_logs(cloud.stub, run_id, "2")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE and err.value.details().startswith("Cloud Logging")

    fake.fail_with = [grpc.StatusCode.UNAVAILABLE] * 1000
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get_logs(cloud.stub, run_id, "2")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    fake.fail_with.clear()


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def google_batch_submission(at: datetime, uid: str) -> bytes:
    """What Nextflow's google-batch executor logs when it submits a task (JVM local time)."""
    local = at.astimezone()
    stamp = f"{MONTHS[local.month - 1]}-{local:%d %H:%M:%S}.{local.microsecond // 1000:03d}"
    return (
        f"{stamp} [Task submitter] DEBUG n.c.g.batch.GoogleBatchTaskHandler - [GOOGLE BATCH] Process "
        f"`NFCORE_SCRNASEQ:SCRNASEQ:MTX_TO_H5AD (pbmc_1k)` submitted > job=nf-c0ffee12-1714572600100; uid={uid}; "
        "work-dir=gs://arc-runs-prod/runs/run-1a2b3c4d/work/c0/ffee12aa0c2b9e8a7d6c5b4a392817\n"
        f"{stamp} [Task submitter] INFO  nextflow.Session - [c0/ffee12] Submitted process > "
        "NFCORE_SCRNASEQ:SCRNASEQ:MTX_TO_H5AD (pbmc_1k)\n"
    ).encode()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def test_follow_a_running_batch_task_with_a_moving_cursor(cloud, fake, runs_service, storage) -> None:
    run_id = await insert_run(runs_service)
    uid = "nf-c0ffee12-1714572600100-abc"
    submitted = datetime.now(UTC).replace(microsecond=100_000) - timedelta(minutes=1)
    await put(storage, run_id, "nextflow.log", google_batch_submission(submitted, uid))
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_fields.txt"))  # the task has no row: running
    t0 = submitted + timedelta(seconds=30)
    fake.add_task_line("starting", uid=uid, run_id=run_id, at=t0)

    request = logs_service_pb2.StreamTaskLogsRequest(run_id=run_id, task_id="c0ffee12")
    call = cloud.stub.StreamTaskLogs(request, metadata=ALICE)
    first = await asyncio.wait_for(call.read(), 5)
    assert (first.stream, first.text) == (STDOUT, "starting\n")
    assert fake.list_requests[-1].filter == expected_filter(uid, run_id, iso(submitted))  # from its submission

    fake.add_task_line("step 2", uid=uid, run_id=run_id, at=t0 + timedelta(seconds=2))
    fake.add_task_line("oops", uid=uid, run_id=run_id, at=t0 + timedelta(seconds=3), severity="ERROR")
    second = await asyncio.wait_for(call.read(), 5)
    third = await asyncio.wait_for(call.read(), 5)
    assert [(second.stream, second.text), (third.stream, third.text)] == [(STDOUT, "step 2\n"), (STDERR, "oops\n")]
    # The cursor moved: later polls ask from the last entry minus the lag (late entries), not from the start.
    await asyncio.sleep(0.3)
    assert fake.list_requests[-1].filter.endswith(f'timestamp>="{iso(t0 + timedelta(seconds=3 - 10))}"')
    # A late entry (timestamped before the cursor) still arrives, once.
    fake.add_task_line("late line", uid=uid, run_id=run_id, at=t0 + timedelta(seconds=1))
    late = await asyncio.wait_for(call.read(), 5)
    assert late.text == "late line\n"
    call.cancel()

    # Resume after the third chunk: nothing lost, nothing repeated; the stream ends with the task.
    fake.add_task_line("done.", uid=uid, run_id=run_id, at=t0 + timedelta(seconds=9))
    row = (
        "9\tc0/ffee12\tnf-c0ffee12-1714572600100/0/" + uid + "\tNFCORE_SCRNASEQ:SCRNASEQ:MTX_TO_H5AD\tpbmc_1k\t"
        "NFCORE_SCRNASEQ:SCRNASEQ:MTX_TO_H5AD (pbmc_1k)\tCOMPLETED\t0" + "\t-" * 30 + "\n"
    )
    append_local(storage, run_id, "trace.txt", row.encode())  # the task ends: its row appears
    resumed = cloud.stub.StreamTaskLogs(
        logs_service_pb2.StreamTaskLogsRequest(run_id=run_id, task_id="c0ffee12", after_position=third.position),
        metadata=ALICE,
    )
    rest = []
    while (item := await asyncio.wait_for(resumed.read(), 5)) is not grpc.aio.EOF:
        rest.append(item)
    assert [c.text for c in rest] == ["done.\n"]
    await end_run(runs_service, run_id)


async def test_the_fake_tails_too(fake) -> None:
    """TailLogEntries works with the real client (the bidi stream), filter recorded."""
    client = fake.client()
    at = datetime.now(UTC)
    fake.add_task_line("before", uid="u1", run_id="run-11111111", at=at)

    async def requests():  # type: ignore[no-untyped-def]
        yield types.TailLogEntriesRequest(resource_names=[f"projects/{PROJECT}"], filter='labels.job_uid="u1"')

    stream = await client.tail_log_entries(requests=requests())
    first = await asyncio.wait_for(anext(aiter(stream)), 5)
    fake.add_task_line("after", uid="u1", run_id="run-11111111", at=at)
    fake.add_task_line("elsewhere", uid="u2", run_id="run-11111111", at=at)
    second = await asyncio.wait_for(anext(aiter(stream)), 5)
    assert [e.text_payload for e in [*first.entries, *second.entries]] == ["before", "after"]
    assert fake.tail_requests[0].filter == 'labels.job_uid="u1"'
    await client.transport.close()
