"""End to end on the embedded stack: the local executor starts the real orchestrator, which runs the
Nextflow stand-in and reports back; status arrives live on WatchRun and SSE."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from arc.runs.v1 import run_pb2, runs_service_pb2
from services.runs.executors.processes import group_alive
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running, email_metadata, running_platform

ROOT = Path(__file__).resolve().parents[2]
NEXTFLOW = str(ROOT / "tests" / "fakes" / "nextflow")
ALICE = email_metadata("alice@example.com")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
DATA = TEST_INPUTS  # placeholder FASTQ files in an allowed input location
SAMPLESHEET = (
    "sample,fastq_1,fastq_2\n"
    f"s1,{DATA}/s1_R1.fastq.gz,{DATA}/s1_R2.fastq.gz\n"
    f"s2,{DATA}/s2_R1.fastq.gz,{DATA}/s2_R2.fastq.gz\n"
)
TERMINAL = {run_pb2.Run.COMPLETED, run_pb2.Run.FAILED, run_pb2.Run.CANCELLED}


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory) -> AsyncIterator[Running]:
    with pytest.MonkeyPatch.context() as env:
        # Read by the orchestrator and the stand-in, which inherit the platform's environment.
        env.setenv("NXF_FAKE_TASK_SECONDS", "0.3")
        env.setenv("ARC_LOG_SYNC_SECONDS", "0.2")
        dsn = await make_database()
        async with running_platform(
            database_url=dsn,
            data_dir=tmp_path_factory.mktemp("arc-exec"),
            nextflow_bin=NEXTFLOW,
            reconcile_interval_seconds=0.5,
            reconcile_grace_seconds=3.0,
            progress_interval_seconds=0.3,
            local_cancel_grace_seconds=5.0,
            local_max_concurrent_runs=4,
        ) as running:
            yield running


def body(**params: object) -> dict:
    return {
        "pipeline": "demo/hello",
        "pipeline_version": "1.0.0",
        "samplesheet_csv": SAMPLESHEET,
        "params": {"greeting": "hi", **params},
    }


async def create(platform: Running, **params: object) -> dict:
    response = await platform.http.post("/api/runs", json=body(**params), headers=ALICE_HTTP)
    assert response.status_code == 201, response.text
    return response.json()


async def wait_terminal(platform: Running, run_id: str, timeout: float = 60) -> run_pb2.Run:
    call = platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ALICE)
    seen = []
    async with asyncio.timeout(timeout):
        while (event := await call.read()) is not grpc.aio.EOF:
            seen.append(event.status.status)
            if event.final:
                return event.status
    raise AssertionError(f"stream ended without a final event: {seen}")


def trace_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


async def read(platform: Running, key: str) -> str:
    return (await platform.service("runs").storage.read_bytes(key)).decode()


async def test_create_runs_to_completion_with_live_status(platform: Running) -> None:
    run = await create(platform)
    assert run["status"] == "submitted" and run["batch_job_name"] == f"local/{run['run_id']}"
    config = await read(platform, f"runs/{run['run_id']}/inputs/nextflow.config")
    assert "process.executor = 'local'" in config and "resourceLabels" in config

    events = await platform.http.get(f"/api/runs/{run['run_id']}/events", headers=ALICE_HTTP, timeout=60)
    statuses = [
        json.loads(line[5:].strip())["status"]
        for line in events.text.splitlines()
        if line.startswith("data:") and '"status"' in line
    ]
    assert statuses[0] in ("submitted", "running") and statuses[-1] == "completed"
    assert "running" in statuses
    progress = [
        json.loads(line[5:]) for line in events.text.splitlines() if line.startswith("data:") and '"processes"' in line
    ]
    assert progress, "task progress is pushed while the run goes"
    done = {p["process"]: p for p in progress[-1]["processes"]}
    assert any("FASTQC" in name for name in done) and all(p["total"] >= 1 for p in done.values())
    final = (await platform.http.get(f"/api/runs/{run['run_id']}", headers=ALICE_HTTP)).json()
    assert final["exit_code"] == 0 and final["started_at"] and final["completed_at"]
    trace = trace_rows(await read(platform, f"runs/{run['run_id']}/logs/trace.txt"))
    assert trace and {r["status"] for r in trace} == {"COMPLETED"}
    assert final["nextflow_session_id"] in await read(platform, f"runs/{run['run_id']}/logs/nextflow.log")
    files = (await platform.http.get(f"/api/runs/{run['run_id']}/files", headers=ALICE_HTTP)).json()
    assert {"logs/nextflow.log", "logs/trace.txt", "logs/timeline.html", "logs/report.html"} <= {
        f["path"] for f in files["logs"]
    }
    assert files["results"], "the pipeline's results are listed"


async def test_failing_task_reports_exit_code_message_and_task(platform: Running) -> None:
    run = await create(platform, fail_task="FASTQC (s2)")
    final = await wait_terminal(platform, run["run_id"])
    assert final.status == run_pb2.Run.FAILED
    assert final.exit_code == 1
    assert "FASTQC" in final.error_task and "s2" in final.error_task
    assert final.error_message
    assert final.metrics["failure_kind"] in ("task", "task_failure")


async def test_cancel_while_running_kills_the_process_group(platform: Running) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NXF_FAKE_TASK_SECONDS", "5")
        run = await create(platform)
    run_id = run["run_id"]
    state = Path(platform.platform.settings.data_dir) / "executor" / run_id / "job.json"
    async with asyncio.timeout(30):
        while True:
            current = (await platform.http.get(f"/api/runs/{run_id}", headers=ALICE_HTTP)).json()
            if current["status"] == "running" and state.exists() and json.loads(state.read_text()).get("pid"):
                break
            await asyncio.sleep(0.1)
    pid = json.loads(state.read_text())["pid"]
    cancelled = await platform.http.delete(f"/api/runs/{run_id}", headers=ALICE_HTTP)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    async with asyncio.timeout(15):
        while group_alive(pid):
            await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    after = (await platform.http.get(f"/api/runs/{run_id}", headers=ALICE_HTTP)).json()
    assert after["status"] == "cancelled"  # the orchestrator's late report changed nothing


async def test_recover_a_failed_run_resumes_with_cached_tasks(platform: Running) -> None:
    parent = await create(platform, fail_task="FASTQC (s2)")
    assert (await wait_terminal(platform, parent["run_id"])).status == run_pb2.Run.FAILED
    response = await platform.http.post(
        f"/api/runs/{parent['run_id']}/recover",
        json={"reuse_work_dir": True, "notes": "retry without the failure", "override_params": {"greeting": "hi"}},
        headers=ALICE_HTTP,
    )
    assert response.status_code == 201, response.text
    child = response.json()
    assert child["parent_run_id"] == parent["run_id"] and child["is_recovery"]
    assert child["recovery_notes"] == "retry without the failure"
    assert child["reused_work_dir"] == platform.service("runs").storage.uri(f"runs/{parent['run_id']}/work")
    assert child["nextflow_session_id"] == parent["nextflow_session_id"]
    final = await wait_terminal(platform, child["run_id"])
    assert final.status == run_pb2.Run.COMPLETED
    trace = trace_rows(await read(platform, f"runs/{child['run_id']}/logs/trace.txt"))
    statuses = {r["status"] for r in trace}
    assert "CACHED" in statuses, statuses
    rerun = [r["name"] for r in trace if r["status"] == "COMPLETED"]
    assert any("FASTQC" in name and "s2" in name for name in rerun)


async def test_recover_rules(platform: Running) -> None:
    run = await create(platform)
    await wait_terminal(platform, run["run_id"])
    completed = await platform.http.post(f"/api/runs/{run['run_id']}/recover", json={}, headers=ALICE_HTTP)
    assert completed.status_code == 400 and completed.json()["error"]["code"] == "FAILED_PRECONDITION"

    failed = await create(platform, fail_task="MULTIQC")
    await wait_terminal(platform, failed["run_id"])
    await platform.service("runs").storage.delete_prefix(f"runs/{failed['run_id']}/work")
    gone = await platform.http.post(f"/api/runs/{failed['run_id']}/recover", json={}, headers=ALICE_HTTP)
    assert gone.status_code == 400 and "work dir" in gone.json()["error"]["message"]
    fresh = await platform.http.post(
        f"/api/runs/{failed['run_id']}/recover",
        json={"reuse_work_dir": False, "override_params": {"greeting": "again"}},
        headers=ALICE_HTTP,
    )
    assert fresh.status_code == 201 and fresh.json()["reused_work_dir"] is None
    assert (await wait_terminal(platform, fresh.json()["run_id"])).status == run_pb2.Run.COMPLETED


async def test_missing_nextflow_fails_the_run_with_a_hint(make_database, tmp_path) -> None:
    dsn = await make_database()
    async with running_platform(
        database_url=dsn, data_dir=tmp_path, nextflow_bin=str(tmp_path / "no-such-nextflow")
    ) as running:
        response = await running.http.post("/api/runs", json=body(), headers=ALICE_HTTP)
        final = await wait_terminal(running, response.json()["run_id"], timeout=30)
        assert final.status == run_pb2.Run.FAILED
        assert "nextflow" in final.error_message.lower() and "ARC_NEXTFLOW_BIN" in final.error_message


async def test_recover_from_scratch_gets_a_fresh_session_and_reports_itself(platform: Running) -> None:
    parent = await create(platform, fail_task="FASTQC (s2)")
    assert (await wait_terminal(platform, parent["run_id"])).status == run_pb2.Run.FAILED
    response = await platform.http.post(
        f"/api/runs/{parent['run_id']}/recover",
        json={"reuse_work_dir": False, "override_params": {"greeting": "again"}},
        headers=ALICE_HTTP,
    )
    assert response.status_code == 201, response.text
    child = response.json()
    # A session of its own (a UUID, as Nextflow's NXF_UUID must be), not the parent's and not "None".
    session = child["nextflow_session_id"]
    assert session and session != parent["nextflow_session_id"] and str(uuid.UUID(session)) == session
    final = await wait_terminal(platform, child["run_id"], timeout=30)
    assert final.status == run_pb2.Run.COMPLETED and final.exit_code == 0
    trace = trace_rows(await read(platform, f"runs/{child['run_id']}/logs/trace.txt"))
    assert trace and "CACHED" not in {r["status"] for r in trace}
    history = await platform.service("runs").store.history(child["run_id"])
    settled = history[-1]
    assert settled.to_status == "completed" and settled.actor == "orchestrator"  # not the reconciler


async def test_a_run_id_that_clashes_never_touches_the_existing_run(
    platform: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = await create(platform)
    await wait_terminal(platform, existing["run_id"])
    storage = platform.service("runs").storage
    before = {o.key: o.version for o in await storage.list(f"runs/{existing['run_id']}/inputs")}

    from services.runs import service as runs_service

    ids = iter([existing["run_id"], "run-0badc0de"])
    monkeypatch.setattr(runs_service, "new_run_id", lambda: next(ids))
    created = await create(platform)
    assert created["run_id"] == "run-0badc0de"  # a new id was drawn
    after = {o.key: o.version for o in await storage.list(f"runs/{existing['run_id']}/inputs")}
    assert after == before  # the existing run's inputs were not rewritten
    again = (await platform.http.get(f"/api/runs/{existing['run_id']}", headers=ALICE_HTTP)).json()
    assert again["status"] == "completed"
    await wait_terminal(platform, created["run_id"])


async def test_a_failed_input_write_deletes_only_what_it_wrote(
    platform: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = platform.service("runs").storage
    real_write = storage.write_bytes

    async def failing_write(key: str, data: bytes):  # type: ignore[no-untyped-def]
        if key.endswith("/inputs/params.yaml"):
            raise OSError("disk full")
        return await real_write(key, data)

    monkeypatch.setattr(storage, "write_bytes", failing_write)
    headers = {**ALICE_HTTP, "Idempotency-Key": "disk-full-retry"}
    response = await platform.http.post("/api/runs", json=body(), headers=headers)
    assert response.status_code >= 500
    runs = (await platform.http.get("/api/runs?page_size=100", headers=ALICE_HTTP)).json()["runs"]
    newest = max(runs, key=lambda r: r["created_at"])
    assert newest["status"] == "failed" and "Could not store the run's inputs" in newest["error_message"]
    assert await storage.list(f"runs/{newest['run_id']}/inputs") == []
    # The caller saw an error: a retry with the same request id makes a new run, not the failed one.
    monkeypatch.setattr(storage, "write_bytes", real_write)
    retry = await platform.http.post("/api/runs", json=body(), headers=headers)
    assert retry.status_code == 201 and retry.json()["run_id"] != newest["run_id"]
    await wait_terminal(platform, retry.json()["run_id"])
