"""Task stdout/stderr from work-dir files (the local backend) over real gRPC and HTTP: read, follow, resume."""

from __future__ import annotations

import asyncio
import json
import re

import grpc
import pytest

from arc.logs.v1 import logs_service_pb2
from tests.logs.conftest import (
    ALICE,
    ALICE_HEADERS,
    BOB,
    BOB_HEADERS,
    end_run,
    fixture_bytes,
    insert_run,
    put,
    run_standin,
    sse_events,
    start_standin,
)

STDOUT, STDERR = logs_service_pb2.StreamTaskLogsResponse.STDOUT, logs_service_pb2.StreamTaskLogsResponse.STDERR
SUBMITTED_RE = re.compile(r"\[([0-9a-f]{2}/[0-9a-f]{6})\] Submitted process > (.+)$", re.MULTILINE)


@pytest.fixture(scope="module")
async def failed_run(platform, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A finished stand-in run (FASTQC (sample2) fails) laid out as the orchestrator leaves it."""
    runs_service = platform.service("runs")
    storage = platform.service("logs").storage
    run_id = await insert_run(runs_service)
    await run_standin(storage.root, run_id, tmp_path_factory.mktemp("nf"), fail_task="FASTQC (sample2)")
    await end_run(runs_service, run_id, "failed")
    return run_id


def trace_rows(storage, run_id: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    lines = (storage.root / "runs" / run_id / "logs" / "trace.txt").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def task_dir(storage, run_id: str, short_hash: str):  # type: ignore[no-untyped-def]
    bucket, rest = short_hash.split("/")
    (found,) = [d for d in (storage.root / "runs" / run_id / "work" / bucket).iterdir() if d.name.startswith(rest)]
    return found


async def get_logs(logs, run_id: str, task_id: str, metadata=ALICE):  # type: ignore[no-untyped-def]
    return await logs.GetTaskLogs(
        logs_service_pb2.GetTaskLogsRequest(run_id=run_id, task_id=task_id), metadata=metadata
    )


async def test_stdout_and_stderr_of_a_failed_task(logs, storage, failed_run) -> None:
    rows = trace_rows(storage, failed_run)
    failed = next(r for r in rows if r["status"] == "FAILED")
    folder = task_dir(storage, failed_run, failed["hash"])
    response = await get_logs(logs, failed_run, failed["task_id"])
    assert response.stderr == (folder / ".command.err").read_text() and "Failed to process file" in response.stderr
    assert response.stdout == (folder / ".command.out").read_text() and not response.truncated
    by_hash = await get_logs(logs, failed_run, failed["hash"])
    assert by_hash == response
    assert await get_logs(logs, failed_run, failed["hash"].replace("/", "") + folder.name[6:12]) == response
    ok = next(r for r in rows if r["status"] == "COMPLETED")
    assert (await get_logs(logs, failed_run, ok["task_id"])).stdout == (
        task_dir(storage, failed_run, ok["hash"]) / ".command.out"
    ).read_text()


@pytest.mark.parametrize(
    ("task_id", "metadata", "code"),
    [
        ("999", ALICE, grpc.StatusCode.NOT_FOUND),
        ("ff/ffffff", ALICE, grpc.StatusCode.NOT_FOUND),
        ("", ALICE, grpc.StatusCode.INVALID_ARGUMENT),
        ("1", BOB, grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_unknown_task_and_strangers(logs, failed_run, task_id: str, metadata, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get_logs(logs, failed_run, task_id, metadata)
    assert err.value.code() == code


async def test_workdir_column_recovery_dir_truncation_and_expiry(logs, runs_service, storage, logs_service) -> None:
    parent = await insert_run(runs_service, status="failed")
    work = storage.root / "runs" / parent / "work"
    folder = work / "4e" / "1ab2cd5f0c2b9e8a7d6c5b4a392817"
    folder.mkdir(parents=True)
    (folder / ".command.out").write_text("x" * 5000 + "\nthe end\n")
    (folder / ".command.err").write_text("warning: é\n")
    # A recovery runs in its parent's work dir; its trace names that dir in the workdir column.
    child = await insert_run(runs_service, status="failed", reused_work_dir=str(work), parent_run_id=parent)
    trace = fixture_bytes("trace_fields.txt").replace(
        b"gs://arc-runs-prod/runs/run-1a2b3c4d/work/4e/1ab2cd5f0c2b9e8a7d6c5b4a39281715", str(folder).encode()
    )
    await put(storage, child, "trace.txt", trace)
    backend = logs_service.task_logs
    backend.max_bytes, original = 1000, backend.max_bytes
    try:
        response = await get_logs(logs, child, "1")
    finally:
        backend.max_bytes = original
    assert response.truncated and response.stdout.endswith("x\nthe end\n") and len(response.stdout) == 1000
    assert response.stderr == "warning: é\n"

    # The workdir column points elsewhere (the VM's path): the hash finds the folder instead.
    other = await insert_run(runs_service, status="failed", reused_work_dir=str(work))
    await put(storage, other, "trace.txt", fixture_bytes("trace_fields.txt"))
    assert (await get_logs(logs, other, "1")).stderr == "warning: é\n"
    with pytest.raises(grpc.aio.AioRpcError) as err:  # task 2's folder is gone (work dirs expire)
        await get_logs(logs, other, "2")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "expire" in err.value.details()


async def collect(call, timeout: float = 15.0) -> list:  # type: ignore[no-untyped-def]
    out = []

    async def _read() -> None:
        while (item := await call.read()) is not grpc.aio.EOF:
            out.append(item)

    await asyncio.wait_for(_read(), timeout)
    return out


async def test_follow_a_running_task_and_resume(logs, runs_service, storage, tmp_path) -> None:
    run_id = await insert_run(runs_service)
    nf = start_standin(tmp_path / "launch", storage.root / "runs" / run_id / "work", task_seconds=1.5, samples=1)
    try:
        short = None
        for _ in range(100):  # the orchestrator's copy loop, until a task is submitted
            nf.copy_logs(storage.root, run_id)
            path = storage.root / "runs" / run_id / "logs" / "nextflow.log"
            match = SUBMITTED_RE.search(path.read_text()) if path.exists() else None
            if match:
                short = match.group(1)
                break
            await asyncio.sleep(0.05)
        assert short, "no task was submitted"
        request = logs_service_pb2.StreamTaskLogsRequest(run_id=run_id, task_id=short.replace("/", ""))
        call = logs.StreamTaskLogs(request, metadata=ALICE)
        first = await asyncio.wait_for(call.read(), 5)  # the task is running: its first line is out
        call.cancel()
        assert first.stream == STDOUT and first.text and first.position

        resumed = logs.StreamTaskLogs(
            logs_service_pb2.StreamTaskLogsRequest(run_id=run_id, task_id=short, after_position=first.position),
            metadata=ALICE,
        )
        copier = asyncio.create_task(_copy_until_done(nf, storage.root, run_id))
        rest = await collect(resumed)  # ends by itself when the task does
        await copier
    finally:
        nf.process.wait(30)
    folder = task_dir(storage, run_id, short)
    assert (folder / ".exitcode").exists()
    out = first.text + "".join(c.text for c in rest if c.stream == STDOUT)
    assert out == (folder / ".command.out").read_text() and out.count("\n") >= 2
    positions = [c.position for c in rest]
    assert len(set(positions)) == len(positions)


async def _copy_until_done(nf, root, run_id: str) -> None:  # type: ignore[no-untyped-def]
    while nf.process.poll() is None:
        nf.copy_logs(root, run_id)
        await asyncio.sleep(0.1)
    nf.copy_logs(root, run_id)


async def test_stream_errors(logs, failed_run) -> None:
    for fields, code in (
        ({"task_id": "1", "after_position": "not-a-position"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"task_id": "424242"}, grpc.StatusCode.NOT_FOUND),
    ):
        call = logs.StreamTaskLogs(logs_service_pb2.StreamTaskLogsRequest(run_id=failed_run, **fields), metadata=ALICE)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call.read()
        assert err.value.code() == code


async def test_rest_task_logs_and_sse(platform, storage, failed_run) -> None:
    failed = next(r for r in trace_rows(storage, failed_run) if r["status"] == "FAILED")
    http = platform.http
    body = (await http.get(f"/api/runs/{failed_run}/tasks/{failed['task_id']}/logs", headers=ALICE_HEADERS)).json()
    assert "Failed to process file" in body["stderr"] and body["truncated"] is False
    hashed = failed["hash"].replace("/", "")
    assert (await http.get(f"/api/runs/{failed_run}/tasks/{hashed}/logs", headers=ALICE_HEADERS)).json() == body
    assert (await http.get(f"/api/runs/{failed_run}/tasks/1/logs", headers=BOB_HEADERS)).status_code == 404
    missing = await http.get(f"/api/runs/{failed_run}/tasks/777/logs", headers=ALICE_HEADERS)
    assert missing.status_code == 404

    events = []
    url = f"/api/runs/{failed_run}/tasks/{failed['task_id']}/logs/stream"
    async with http.stream("GET", url, headers=ALICE_HEADERS) as response:
        assert response.status_code == 200
        async for event in sse_events(response):
            events.append(event)
    outputs = [json.loads(e.data) for e in events if e.event == "output"]
    assert "".join(o["text"] for o in outputs if o["stream"] == "stderr") == body["stderr"]
    assert "".join(o["text"] for o in outputs if o["stream"] == "stdout") == body["stdout"]
    assert events[-1].event == "done" and json.loads(events[-1].data)["position"] == events[-2].id
    stranger = await http.get(url, headers=BOB_HEADERS)
    assert stranger.status_code == 404
