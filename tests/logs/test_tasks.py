"""ListTasks over real gRPC and HTTP: trace formats, filters, pages, progress, the per-version cache."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest

from arc.logs.v1 import logs_service_pb2
from arc_core.paging import encode_offset, query_key
from services.logs.trace_parser import parse_trace, progress
from tests.logs.conftest import (
    ALICE,
    ALICE_HEADERS,
    BOB,
    BOB_HEADERS,
    append_local,
    end_run,
    fixture_bytes,
    insert_run,
    put,
    start_standin,
)


async def list_tasks(logs, run_id: str, metadata=ALICE, **fields):  # type: ignore[no-untyped-def]
    return await logs.ListTasks(logs_service_pb2.ListTasksRequest(run_id=run_id, **fields), metadata=metadata)


def counts(response) -> dict[str, tuple[int, ...]]:  # type: ignore[no-untyped-def]
    return {
        p.process.rsplit(":", 1)[-1]: (p.submitted, p.running, p.succeeded, p.cached, p.failed, p.aborted, p.total)
        for p in response.progress
    }


class ReadCounter:
    """Counts the storage reads of one key (wraps the platform's storage instance for one test)."""

    def __init__(self, storage, monkeypatch, suffix: str) -> None:  # type: ignore[no-untyped-def]
        self.whole: list[str] = []
        self.ranges: list[tuple[int, int | None]] = []
        read_bytes, read_range = storage.read_bytes, storage.read_range

        async def counted_bytes(key: str) -> bytes:
            if key.endswith(suffix):
                self.whole.append(key)
            return await read_bytes(key)

        async def counted_range(key: str, start: int, end: int | None = None) -> bytes:
            if key.endswith(suffix):
                self.ranges.append((start, end))
                if start == 0:  # the trace is read in ranged chunks: one from 0 starts a whole parse
                    self.whole.append(key)
            return await read_range(key, start, end)

        monkeypatch.setattr(storage, "read_bytes", counted_bytes)
        monkeypatch.setattr(storage, "read_range", counted_range)


async def test_default_columns(logs, runs_service, storage) -> None:
    run_id = await insert_run(runs_service, status="failed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_default.txt"))
    response = await list_tasks(logs, run_id)
    assert response.total_size == 8 and not response.next_page_token
    first = response.tasks[0]
    assert (first.task_id, first.hash, first.native_id) == ("2", "a3/7f21c9", "31522")
    assert first.process == "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC" and first.tag == "pbmc_1k_R1"
    assert first.status == "COMPLETED" and first.HasField("exit") and first.exit == 0
    assert first.submit.ToDatetime(tzinfo=UTC) == datetime(2024, 5, 1, 12, 0, 4, 512000, tzinfo=UTC)
    assert (first.duration_ms, first.realtime_ms, first.cpu_percent) == (62_000, 58_300, pytest.approx(185.3))
    assert first.peak_rss_bytes == int(312.4 * 1024**2 + 0.5) and first.peak_vmem_bytes == int(3.1 * 1024**3 + 0.5)
    aborted = response.tasks[-1]
    assert aborted.status == "ABORTED" and not aborted.HasField("exit") and not aborted.HasField("duration_ms")
    expected = {p.process.rsplit(":", 1)[-1]: p for p in progress(parse_trace(fixture_bytes("trace_default.txt")))}
    assert counts(response) == {
        name: (p.submitted, p.running, p.succeeded, p.cached, p.failed, p.aborted, p.total)
        for name, p in expected.items()
    }


async def test_extra_fields_raw_and_half_written(logs, runs_service, storage) -> None:
    run_id = await insert_run(runs_service, status="completed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_fields.txt"))
    tasks = (await list_tasks(logs, run_id)).tasks
    quant = tasks[1]
    assert quant.native_id == "nf-9dc2b310-1714568528001/0/5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
    assert quant.workdir.startswith("gs://arc-runs-prod/runs/run-1a2b3c4d/work/9d/c2b310")
    assert quant.start.ToDatetime() == datetime(2024, 5, 1, 13, 4, 30, 552000)
    assert quant.extra["container"] == "quay.io/biocontainers/simpleaf:0.10.0--h9f5acd7_1"
    assert quant.extra["error_action"] == "RETRY" and quant.extra["attempt"] == "1"
    assert "process" not in quant.extra and "workdir" not in quant.extra

    raw_id = await insert_run(runs_service, status="completed")
    await put(storage, raw_id, "trace.txt", fixture_bytes("trace_raw.txt"))
    raw = (await list_tasks(logs, raw_id)).tasks[0]
    assert (raw.duration_ms, raw.peak_rss_bytes, raw.cpu_percent) == (62104, 327577190, pytest.approx(185.3))
    assert raw.submit.ToMilliseconds() == 1714564804512

    live_id = await insert_run(runs_service)  # still running: the trace is being written
    await put(storage, live_id, "trace.txt", fixture_bytes("trace_partial.txt"))
    live = await list_tasks(logs, live_id)
    assert [t.task_id for t in live.tasks] == ["2", "1"] and live.total_size == 2

    empty_id = await insert_run(runs_service)
    await put(storage, empty_id, "trace.txt", fixture_bytes("trace_header_only.txt"))
    assert (await list_tasks(logs, empty_id)).total_size == 0
    none_id = await insert_run(runs_service)
    nothing = await list_tasks(logs, none_id)
    assert nothing.total_size == 0 and not nothing.tasks and not nothing.progress


async def test_filters_and_pages(logs, runs_service, storage) -> None:
    run_id = await insert_run(runs_service, status="failed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_default.txt"))
    failed = await list_tasks(logs, run_id, status="failed")
    assert [t.task_id for t in failed.tasks] == ["4", "6"] and failed.total_size == 2
    assert len(failed.progress) == len((await list_tasks(logs, run_id)).progress)  # progress is run-wide
    fastqc = await list_tasks(logs, run_id, process="FASTQC")
    assert {t.task_id for t in fastqc.tasks} == {"1", "2"}
    full = await list_tasks(logs, run_id, process="NFCORE_SCRNASEQ:SCRNASEQ:FASTQC")
    assert [t.task_id for t in full.tasks] == [t.task_id for t in fastqc.tasks]
    assert (await list_tasks(logs, run_id, status="RUNNING")).total_size == 0

    seen, token = [], ""
    while True:
        page = await list_tasks(logs, run_id, page_size=3, page_token=token)
        seen += [t.task_id for t in page.tasks]
        assert page.total_size == 8
        token = page.next_page_token
        if not token:
            break
    assert seen == [t.task_id for t in (await list_tasks(logs, run_id)).tasks]
    skipped = await list_tasks(logs, run_id, page_size=3, skip=6)
    assert [t.task_id for t in skipped.tasks] == seen[6:] and not skipped.next_page_token

    first = await list_tasks(logs, run_id, page_size=2)
    for fields in ({"page_size": -1}, {"page_token": "garbage!"}, {"page_token": first.next_page_token, "status": "X"}):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await list_tasks(logs, run_id, **fields)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await list_tasks(logs, run_id, metadata=BOB)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_token_of_another_run_or_list_is_refused(logs, runs_service, storage) -> None:
    """Tokens are in the shared format (arc_core.paging), bound to the list, the run and the filters."""
    run_ids = [await insert_run(runs_service) for _ in range(2)]
    for run_id in run_ids:
        await put(storage, run_id, "trace.txt", fixture_bytes("trace_default.txt"))
    first = await list_tasks(logs, run_ids[0], page_size=2)
    assert first.next_page_token and not first.next_page_token.isdecimal()
    other_list = encode_offset(2, query_key("ListPipelines"))
    for run_id, token in ((run_ids[1], first.next_page_token), (run_ids[0], other_list)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await list_tasks(logs, run_id, page_size=2, page_token=token)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == "page_token does not match the request"


async def test_status_filter_takes_any_case(logs, runs_service, storage) -> None:
    """ListTasks' status compares case-insensitively, as ListRuns' status filter does; tokens carry over."""
    run_id = await insert_run(runs_service, status="failed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_default.txt"))
    for spelling in ("FAILED", "failed", "Failed"):
        assert [t.task_id for t in (await list_tasks(logs, run_id, status=spelling)).tasks] == ["4", "6"]
    first = await list_tasks(logs, run_id, status="failed", page_size=1)
    rest = await list_tasks(logs, run_id, status="FAILED", page_size=1, page_token=first.next_page_token)
    assert [t.task_id for t in rest.tasks] == ["6"]


async def test_parsed_once_per_version_and_growth_reads_only_new_rows(
    logs, runs_service, storage, logs_service, monkeypatch
) -> None:
    data = fixture_bytes("trace_default.txt")
    lines = data.splitlines(keepends=True)
    run_id = await insert_run(runs_service)
    await put(storage, run_id, "trace.txt", b"".join(lines[:4]))
    reads = ReadCounter(storage, monkeypatch, f"{run_id}/logs/trace.txt")
    cache = logs_service.tasks.cache
    assert (await list_tasks(logs, run_id)).total_size == 3
    assert len(reads.whole) == 1
    hits, first_reads = cache.hits, list(reads.ranges)
    for _ in range(3):
        assert (await list_tasks(logs, run_id)).total_size == 3
    assert len(reads.whole) == 1 and reads.ranges == first_reads and cache.hits == hits + 3  # unchanged: no read

    # Rows appended (the last one still being written): only the new bytes are read.
    size = len(b"".join(lines[:4]))
    append_local(storage, run_id, "trace.txt", b"".join(lines[4:6]) + lines[6][:20])
    grown = await list_tasks(logs, run_id)
    assert grown.total_size == 5 and len(reads.whole) == 1
    assert reads.ranges and reads.ranges[-1][0] >= size - 64
    append_local(storage, run_id, "trace.txt", lines[6][20:] + b"".join(lines[7:]))
    await end_run(runs_service, run_id, "failed")
    final = await list_tasks(logs, run_id)
    assert len(reads.whole) == 1
    whole = parse_trace(data, final=True)
    assert [t.task_id for t in final.tasks] == [t.task_id for t in whole]
    assert counts(final) == counts(await list_tasks(logs, await _copy_run(runs_service, storage, data)))

    # A rewritten (not grown) trace is noticed and parsed again.
    await put(storage, run_id, "trace.txt", lines[0] + lines[3] + lines[1])
    rewritten = await list_tasks(logs, run_id)
    assert [t.task_id for t in rewritten.tasks] == ["3", "2"] and len(reads.whole) == 2


async def _copy_run(runs_service, storage, data: bytes) -> str:  # type: ignore[no-untyped-def]
    run_id = await insert_run(runs_service, status="failed")
    await put(storage, run_id, "trace.txt", data)
    return run_id


SUBMITTED = (
    "May-01 12:00:0{i}.490 [Task submitter] INFO  nextflow.Session - [{h}] Submitted process > "
    "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC ({s})\n"
)


async def test_tasks_in_flight_count_as_submitted(logs, runs_service, storage) -> None:
    run_id = await insert_run(runs_service)
    log = "".join(
        SUBMITTED.format(i=i, h=h, s=s)
        for i, (h, s) in enumerate((("4e/1ab2cd", "pbmc_1k_R2"), ("a3/7f21c9", "pbmc_1k_R1"), ("0d/0d0d0d", "x")))
    )
    await put(storage, run_id, "nextflow.log", log.encode())
    data = fixture_bytes("trace_default.txt").splitlines(keepends=True)
    await put(storage, run_id, "trace.txt", data[0] + data[2])  # task 1 (4e/1ab2cd) has finished
    response = await list_tasks(logs, run_id)
    assert counts(response)["FASTQC"] == (2, 0, 1, 0, 0, 0, 3)
    assert response.total_size == 1  # rows are the trace's; in-flight tasks show in progress only

    append_local(storage, run_id, "trace.txt", data[1])  # a3/7f21c9 finishes
    assert counts(await list_tasks(logs, run_id))["FASTQC"] == (1, 0, 2, 0, 0, 0, 3)
    await end_run(runs_service, run_id, "cancelled")  # nothing is in flight once the run has ended
    assert counts(await list_tasks(logs, run_id))["FASTQC"] == (0, 0, 2, 0, 0, 0, 2)


async def test_live_standin_run_progress(logs, runs_service, storage, tmp_path) -> None:
    run_id = await insert_run(runs_service)
    nf = start_standin(tmp_path / "launch", storage.root / "runs" / run_id / "work", task_seconds=0.4, samples=3)
    seen_in_flight = False
    try:
        while nf.process.poll() is None:
            nf.copy_logs(storage.root, run_id)
            response = await list_tasks(logs, run_id)
            seen_in_flight |= any(p.submitted for p in response.progress)
            await asyncio.sleep(0.2)
    finally:
        nf.process.wait(30)
    nf.copy_logs(storage.root, run_id)
    await end_run(runs_service, run_id, "completed")
    final = await list_tasks(logs, run_id, page_size=1000)
    assert seen_in_flight
    assert {t.status for t in final.tasks} == {"COMPLETED"}
    assert all(p.submitted == 0 and p.total == p.succeeded for p in final.progress)
    assert sum(p.total for p in final.progress) == final.total_size


async def test_rest_tasks(platform, runs_service, storage) -> None:
    run_id = await insert_run(runs_service, status="failed")
    await put(storage, run_id, "trace.txt", fixture_bytes("trace_default.txt"))
    http = platform.http
    body = (
        await http.get(f"/api/runs/{run_id}/tasks", params={"page_size": 3, "page": 2}, headers=ALICE_HEADERS)
    ).json()
    assert [t["task_id"] for t in body["tasks"]] == ["4", "5", "6"]
    assert body["total"] == 8 and body["page"] == 2 and body["next_page_token"]
    task = body["tasks"][0]
    assert task["status"] == "FAILED" and task["exit"] == 137 and task["peak_rss_bytes"] > 15 * 1024**3
    assert task["submit"] == "2024-05-01T13:02:08.001Z" and task["workdir"] is None and task["extra"] == {}
    fastqc = next(p for p in body["progress"] if p["process"].endswith(":FASTQC"))
    assert fastqc == {
        "process": "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC",
        "submitted": 0,
        "running": 0,
        "succeeded": 2,
        "cached": 0,
        "failed": 0,
        "aborted": 0,
        "total": 2,
    }
    nxt = await http.get(
        f"/api/runs/{run_id}/tasks",
        params={"page_size": 3, "page_token": body["next_page_token"]},
        headers=ALICE_HEADERS,
    )
    assert [t["task_id"] for t in nxt.json()["tasks"]] == ["7", "8"] and nxt.json()["next_page_token"] is None
    filtered = await http.get(f"/api/runs/{run_id}/tasks", params={"status": "FAILED"}, headers=ALICE_HEADERS)
    assert [t["task_id"] for t in filtered.json()["tasks"]] == ["4", "6"]
    assert (await http.get(f"/api/runs/{run_id}/tasks", headers=BOB_HEADERS)).status_code == 404
    bad = await http.get(f"/api/runs/{run_id}/tasks", params={"page_token": "nope"}, headers=ALICE_HEADERS)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_ARGUMENT"
