"""The real orchestrator (``python -m orchestrator``) driving the Nextflow stand-in against a real Runs service.

Each test stores a run's inputs the way the Runs service does, starts the orchestrator as a subprocess with
the environment of a :class:`JobSpec`, and checks what a user would see: the run's status history and
fields, and the files in the run's storage.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import secrets
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from arc.runs.v1 import run_pb2, runs_service_pb2, runs_service_pb2_grpc
from arc_core.storage import GcsStorage, Storage
from orchestrator.config import ConfigError, OrchestratorConfig
from services.runs.executors.base import JobSpec
from services.runs.service import RunsService
from tests.support.fake_gcs import FakeGcs, run_fake_gcs
from tests.support.platform import Running, running_platform
from tests.support.runs import insert_run

STANDIN = Path(__file__).resolve().parents[1] / "fakes" / "nextflow"
PIPELINE = "nf-core/scrnaseq"
SAMPLESHEET = (
    "sample,fastq_1,fastq_2,expected_cells\n"
    "sample1,s1_R1.fastq.gz,s1_R2.fastq.gz,5000\n"
    "sample2,s2_R1.fastq.gz,s2_R2.fastq.gz,5000\n"
)
FASTQC_2 = "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (sample2)"
INSTALL_URL = "https://www.nextflow.io/docs/latest/install.html"


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    dsn = await make_database()
    data_dir = tmp_path_factory.mktemp("arc-orchestrator")
    async with running_platform(database_url=dsn, data_dir=data_dir, targets=["runs", "pipelines"]) as running:
        yield running


@pytest.fixture
def service(platform: Running) -> RunsService:
    return platform.service("runs")


# --------------------------------------------------------------------------------------------------
# helpers


@dataclass
class Prepared:
    run_id: str
    root: str  # storage key of the run's folder
    spec: JobSpec


async def prepare_run(
    platform: Running,
    *,
    params: dict[str, Any] | None = None,
    work_dir: str | None = None,
    cache_uri: str | None = None,
    resume_session_id: str | None = None,
    storage: Storage | None = None,
) -> Prepared:
    """A submitted run with its inputs in storage, as the Runs service leaves it for the executor."""
    service: RunsService = platform.service("runs")
    storage = storage or service.storage
    run_id = f"run-{secrets.token_hex(4)}"
    root = f"runs/{run_id}"
    session_id = str(uuid.uuid4())
    await insert_run(
        service.store,
        status="submitted",
        run_id=run_id,
        pipeline=PIPELINE,
        gcs_path=storage.uri(root),
        params=dict(params or {}),
        nextflow_session_id=session_id,
    )
    token = await service.issue_orchestrator_token(run_id)
    all_params = {
        "input": storage.uri(f"{root}/inputs/samplesheet.csv"),
        "outdir": storage.uri(f"{root}/results"),
        **(params or {}),
    }
    await storage.write_bytes(f"{root}/inputs/samplesheet.csv", SAMPLESHEET.encode())
    await storage.write_bytes(f"{root}/inputs/nextflow.config", b"process {\n    executor = 'local'\n}\n")
    await storage.write_bytes(f"{root}/inputs/params.yaml", json.dumps(all_params).encode())  # JSON is YAML
    spec = JobSpec(
        run_id=run_id,
        pipeline=PIPELINE,
        pipeline_version="2.7.1",
        user_email="alice@example.com",
        run_root=storage.uri(root),
        config_uri=storage.uri(f"{root}/inputs/nextflow.config"),
        params_uri=storage.uri(f"{root}/inputs/params.yaml"),
        work_dir=work_dir or storage.uri(f"{root}/work"),
        session_id=session_id,
        resume_session_id=resume_session_id,
        cache_uri=cache_uri or storage.uri(f"{root}/work/.nextflow-cache"),
        status_address=platform.status_address,
        token=token,
        nextflow_bin=str(STANDIN),
    )
    return Prepared(run_id, root, spec)


def orchestrator_env(spec: JobSpec, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The executor's view: the JobSpec environment, fast fake tasks, quick log syncs."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NXF_", "ARC_"))}
    return {
        **base,
        **spec.environment(),
        "NXF_FAKE_TASK_SECONDS": "0.1",
        "ARC_LOG_SYNC_SECONDS": "0.3",
        "ARC_STOP_GRACE_SECONDS": "5",
        "ARC_ORCHESTRATOR_STATE_DIR": str(tmp_path / "state"),
        "ARC_LAUNCH_DIR": str(tmp_path / "launch"),
        **extra,
    }


@dataclass
class Orchestrator:
    proc: asyncio.subprocess.Process
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def wait(self, timeout: float = 30) -> int:
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            pytest.fail(f"the orchestrator did not finish within {timeout} s:\n{self.stderr}")


async def start_orchestrator(env: dict[str, str], tmp_path: Path, name: str = "orchestrator") -> Orchestrator:
    out = tmp_path / f"{name}.out"
    err = tmp_path / f"{name}.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator", env=env, cwd=tmp_path, stdout=stdout, stderr=stderr
        )
    return Orchestrator(proc, err)


async def run_orchestrator(env: dict[str, str], tmp_path: Path, name: str = "orchestrator") -> tuple[int, str]:
    orch = await start_orchestrator(env, tmp_path, name)
    code = await orch.wait()
    return code, orch.stderr


async def statuses(service: RunsService, run_id: str) -> list[str]:
    return [h.to_status for h in await service.store.history(run_id)]


async def read_text(service: RunsService, key: str) -> str | None:
    if await service.storage.stat(key) is None:
        return None
    return (await service.storage.read_bytes(key)).decode()


def trace_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def by_status(rows: list[dict[str, str]], status: str) -> set[str]:
    return {r["name"] for r in rows if r["status"] == status}


def exit_marker(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "state" / "orchestrator.exit").read_text())


async def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


# --------------------------------------------------------------------------------------------------
# outcomes


async def test_success_reports_running_then_completed_and_uploads_logs(
    platform: Running, service: RunsService, tmp_path: Path
) -> None:
    run = await prepare_run(platform)
    code, stderr = await run_orchestrator(orchestrator_env(run.spec, tmp_path), tmp_path)
    assert code == 0, stderr

    assert await statuses(service, run.run_id) == ["pending", "submitted", "running", "completed"]
    row = await service.store.get_run(run.run_id)
    assert row.exit_code == 0 and row.error_message is None
    assert row.started_at <= row.completed_at
    assert str(row.nextflow_session_id) == run.spec.session_id
    metrics = row.metrics
    assert metrics["tasks_total"] == metrics["tasks_succeeded"] == 5
    assert metrics["tasks_failed"] == metrics["tasks_cached"] == 0
    assert metrics["duration_seconds"] > 0 and "failure_kind" not in metrics

    log = await read_text(service, f"{run.root}/logs/nextflow.log")
    assert log and "Execution complete -- Goodbye" in log and f"Session UUID: {run.spec.session_id}" in log
    rows = trace_rows(await read_text(service, f"{run.root}/logs/trace.txt") or "")
    assert len(rows) == 5 and {r["status"] for r in rows} == {"COMPLETED"}
    for name in ("timeline.html", "report.html"):
        html = await read_text(service, f"{run.root}/logs/{name}")
        assert html and html.lower().startswith("<!doctype html>")
    assert await service.storage.stat(f"{run.root}/results/multiqc/multiqc_report.html") is not None

    marker = exit_marker(tmp_path)
    assert marker["exit_code"] == 0
    assert datetime.fromisoformat(marker["finished_at"]) <= datetime.now(UTC)
    assert list((tmp_path / "launch").iterdir()) == []  # the launch dir is scratch


async def test_logs_are_copied_while_nextflow_runs(platform: Running, service: RunsService, tmp_path: Path) -> None:
    run = await prepare_run(platform)
    env = orchestrator_env(run.spec, tmp_path, NXF_FAKE_TASK_SECONDS="0.8")
    orch = await start_orchestrator(env, tmp_path)
    log_sizes: set[int] = set()
    trace_rows_seen: set[int] = set()
    while orch.proc.returncode is None:
        status = (await service.store.get_run(run.run_id)).status
        log = await read_text(service, f"{run.root}/logs/nextflow.log")
        trace = await read_text(service, f"{run.root}/logs/trace.txt")
        if status == "running" and orch.proc.returncode is None:
            if log:
                log_sizes.add(len(log))
            if trace:
                trace_rows_seen.add(len(trace_rows(trace)))
        await asyncio.sleep(0.1)
    assert await orch.wait() == 0, orch.stderr
    # The log grew in storage and finished tasks showed up in the trace while the run was still going.
    assert len(log_sizes) >= 3, log_sizes
    assert trace_rows_seen & {1, 2, 3, 4}, trace_rows_seen
    final = trace_rows(await read_text(service, f"{run.root}/logs/trace.txt") or "")
    assert len(final) == 5


async def test_failing_task_reports_failed_with_the_task(
    platform: Running, service: RunsService, tmp_path: Path
) -> None:
    run = await prepare_run(platform, params={"fail_task": "FASTQC (sample2)"})
    code, stderr = await run_orchestrator(orchestrator_env(run.spec, tmp_path), tmp_path)
    assert code == 1, stderr

    assert await statuses(service, run.run_id) == ["pending", "submitted", "running", "failed"]
    row = await service.store.get_run(run.run_id)
    assert row.exit_code == 1 and row.failed_at is not None
    assert row.error_task == FASTQC_2
    assert "terminated with an error exit status (1)" in row.error_message
    assert "SequenceFormatException" in row.error_message
    assert row.metrics["failure_kind"] == "task"
    assert row.metrics["tasks_failed"] == 1
    log = await read_text(service, f"{run.root}/logs/nextflow.log")
    assert log and f"Error executing process > '{FASTQC_2}'" in log
    assert await service.storage.stat(f"{run.root}/logs/report.html") is not None
    assert exit_marker(tmp_path)["exit_code"] == 1


async def test_config_error_reports_a_launch_failure(platform: Running, service: RunsService, tmp_path: Path) -> None:
    run = await prepare_run(platform, params={"fail_config": True})
    code, stderr = await run_orchestrator(orchestrator_env(run.spec, tmp_path), tmp_path)
    assert code == 1, stderr

    row = await service.store.get_run(run.run_id)
    assert row.status == "failed" and row.exit_code == 1
    assert row.metrics["failure_kind"] == "launch"
    assert "Unable to parse config file" in row.error_message
    assert row.error_task is None
    log = await read_text(service, f"{run.root}/logs/nextflow.log")
    assert log and "ERROR nextflow.cli.Launcher" in log


@pytest.mark.parametrize("case", ["missing", "not_executable", "bad_interpreter"])
async def test_nextflow_that_cannot_run_fails_fast_with_the_install_hint(
    platform: Running, service: RunsService, tmp_path: Path, case: str
) -> None:
    run = await prepare_run(platform)
    binary = tmp_path / "bin" / "nextflow"
    if case != "missing":
        binary.parent.mkdir()
        binary.write_text("#!/no/such/interpreter\n")
        binary.chmod(0o755 if case == "bad_interpreter" else 0o644)
    env = orchestrator_env(run.spec, tmp_path, ARC_NEXTFLOW_BIN=str(binary))
    started = time.monotonic()
    code, stderr = await run_orchestrator(env, tmp_path)
    assert code == 127, stderr
    assert time.monotonic() - started < 15

    assert await statuses(service, run.run_id) == ["pending", "submitted", "failed"]
    row = await service.store.get_run(run.run_id)
    assert row.exit_code == 127 and row.metrics["failure_kind"] == "launch"
    assert str(binary) in row.error_message
    assert INSTALL_URL in row.error_message and "ARC_NEXTFLOW_BIN" in row.error_message
    assert exit_marker(tmp_path)["exit_code"] == 127


async def test_missing_inputs_fail_the_run(platform: Running, service: RunsService, tmp_path: Path) -> None:
    run = await prepare_run(platform)
    await service.storage.delete_prefix(f"{run.root}/inputs")
    code, stderr = await run_orchestrator(orchestrator_env(run.spec, tmp_path), tmp_path)
    assert code == 1, stderr
    row = await service.store.get_run(run.run_id)
    assert row.status == "failed" and row.metrics["failure_kind"] == "launch"
    assert "Cannot read the run's inputs" in row.error_message and "nextflow.config" in row.error_message


async def test_incomplete_environment_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NXF_", "ARC_"))}
    env["ARC_ORCHESTRATOR_STATE_DIR"] = str(tmp_path / "state")
    env["RUN_ID"] = "run-00000000"
    code, stderr = await run_orchestrator(env, tmp_path)
    assert code == 2
    assert "PIPELINE is not set" in stderr and "ARC_RUN_TOKEN is not set" in stderr
    assert exit_marker(tmp_path)["exit_code"] == 2


def test_environment_problems_are_named_at_once() -> None:
    env = {
        name: "x"
        for name in ("RUN_ID", "PIPELINE_VERSION", "RUN_ROOT", "CONFIG_GCS_PATH", "PARAMS_GCS_PATH", "WORK_DIR")
    }
    env |= {"PIPELINE": "-bg", "IS_RECOVERY": "true", "ARC_LOG_SYNC_SECONDS": "0"}
    with pytest.raises(ConfigError) as err:
        OrchestratorConfig.from_env(env)
    message = str(err.value)
    for problem in (
        "NXF_UUID is not set",
        "ARC_RUN_TOKEN is not set",
        "PIPELINE must not start with '-'",
        "IS_RECOVERY is true but RESUME_SESSION_ID is not set",
        "ARC_LOG_SYNC_SECONDS must be a positive number",
    ):
        assert problem in message


# --------------------------------------------------------------------------------------------------
# stopping


def nextflow_pid(log: str) -> int:
    m = re.search(r"Process: (\d+)@", log)
    assert m, "no pid in the Nextflow log"
    return int(m[1])


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("cancelled_first", [False, True], ids=["preempted", "cancelled"])
async def test_sigterm_stops_nextflow_and_uploads_logs(
    platform: Running, service: RunsService, tmp_path: Path, cancelled_first: bool
) -> None:
    run = await prepare_run(platform)
    orch = await start_orchestrator(orchestrator_env(run.spec, tmp_path, NXF_FAKE_TASK_SECONDS="5"), tmp_path)
    log_key = f"{run.root}/logs/nextflow.log"

    async def task_running() -> bool:
        log = await read_text(service, log_key)
        status = (await service.store.get_run(run.run_id)).status
        return status == "running" and bool(log) and "Submitted process >" in log

    await wait_for(task_running, 15, "a running task")
    if cancelled_first:  # what CancelRun does before it stops the job
        await service.store.move(run.run_id, "cancelled", reason="test", actor="test")
    stopped = time.monotonic()
    orch.proc.send_signal(signal.SIGTERM)
    assert await orch.wait(15) == 143, orch.stderr
    assert time.monotonic() - stopped < 8

    log = await read_text(service, log_key) or ""
    assert "Session aborted -- Cause: SIGTERM" in log
    assert_gone(nextflow_pid(log))
    rows = trace_rows(await read_text(service, f"{run.root}/logs/trace.txt") or "")
    assert rows and {r["status"] for r in rows} == {"ABORTED"}
    row = await service.store.get_run(run.run_id)
    # A stop from outside reports no outcome: a cancel is recorded by the platform, a preempted job is
    # retried by Cloud Batch (or settled by the reconciler from the job's final state).
    assert row.status == ("cancelled" if cancelled_first else "running")
    assert "not reporting an outcome" in orch.stderr
    assert exit_marker(tmp_path)["exit_code"] == 143


async def test_run_cancelled_before_it_started_stops_nextflow(
    platform: Running, service: RunsService, tmp_path: Path
) -> None:
    run = await prepare_run(platform)
    await service.store.move(run.run_id, "cancelled", reason="test", actor="test")
    started = time.monotonic()
    env = orchestrator_env(run.spec, tmp_path, NXF_FAKE_TASK_SECONDS="5")
    code, stderr = await run_orchestrator(env, tmp_path)
    assert code == 143, stderr
    assert time.monotonic() - started < 10  # well before the 15 s the tasks would take
    assert "the run is already cancelled" in stderr
    assert (await service.store.get_run(run.run_id)).status == "cancelled"


# --------------------------------------------------------------------------------------------------
# recovery


async def test_recovery_resumes_from_a_fresh_launch_dir(
    platform: Running, service: RunsService, tmp_path: Path
) -> None:
    first = await prepare_run(platform, params={"fail_task": "FASTQC (sample2)"})
    code, stderr = await run_orchestrator(orchestrator_env(first.spec, tmp_path / "vm1"), tmp_path, "first")
    assert code == 1, stderr
    first_row = await service.store.get_run(first.run_id)
    session = str(first_row.nextflow_session_id)
    assert session == first.spec.session_id
    rows1 = trace_rows(await read_text(service, f"{first.root}/logs/trace.txt") or "")
    completed1 = by_status(rows1, "COMPLETED")
    assert completed1 and FASTQC_2 in by_status(rows1, "FAILED")

    # The recovery: same work dir and cache, the parent's session, a new VM (new launch dir, no history).
    second = await prepare_run(
        platform, work_dir=first.spec.work_dir, cache_uri=first.spec.cache_uri, resume_session_id=session
    )
    # A wrapper records what Nextflow is given, then runs the stand-in.
    wrapper = tmp_path / "nextflow-wrapper"
    wrapper.write_text(
        f'#!/bin/sh\nenv > "$DUMP_DIR/env"\nprintf "%s\\n" "$@" > "$DUMP_DIR/args"\nexec "{STANDIN}" "$@"\n'
    )
    wrapper.chmod(0o755)
    env = orchestrator_env(second.spec, tmp_path / "vm2", ARC_NEXTFLOW_BIN=str(wrapper), DUMP_DIR=str(tmp_path))
    code, stderr = await run_orchestrator(env, tmp_path, "second")
    assert code == 0, stderr
    args = (tmp_path / "args").read_text().splitlines()
    assert args[args.index("-resume") + 1] == session and args[args.index("-work-dir") + 1] == first.spec.work_dir
    assert args[args.index("-name") + 1].startswith(second.run_id)
    nf_env = dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines() if "=" in line)
    assert nf_env["NXF_IGNORE_RESUME_HISTORY"] == "true"
    # A local work dir: Nextflow's default cache store next to it (the cloud cache takes only gs/s3/az).
    assert nf_env["NXF_CACHE_DIR"] == first.spec.cache_uri and "NXF_CLOUDCACHE_PATH" not in nf_env
    assert "ARC_RUN_TOKEN" not in nf_env  # pipeline tasks cannot report for the run

    assert await statuses(service, second.run_id) == ["pending", "submitted", "running", "completed"]
    row = await service.store.get_run(second.run_id)
    assert str(row.nextflow_session_id) == session  # the session that holds the cache
    rows2 = trace_rows(await read_text(service, f"{second.root}/logs/trace.txt") or "")
    assert by_status(rows2, "CACHED") == completed1
    assert FASTQC_2 in by_status(rows2, "COMPLETED")
    assert row.metrics["tasks_cached"] == len(completed1)
    log = await read_text(service, f"{second.root}/logs/nextflow.log") or ""
    assert "Cached process >" in log and "Unable to find the cache" not in log


# --------------------------------------------------------------------------------------------------
# resilience


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ForwardingRuns(runs_service_pb2_grpc.RunsServiceServicer):
    """A Runs endpoint that appears late: forwards ReportRunStatus (and its token) to the real service."""

    def __init__(self, stub: runs_service_pb2_grpc.RunsServiceStub) -> None:
        self.stub = stub

    async def ReportRunStatus(
        self, request: runs_service_pb2.ReportRunStatusRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        metadata = tuple((k, v) for k, v in context.invocation_metadata() if k == "x-arc-run-token")
        try:
            return await self.stub.ReportRunStatus(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            await context.abort(exc.code(), exc.details() or "", exc.trailing_metadata())
            raise


async def test_status_reports_retry_until_the_service_answers(
    platform: Running, service: RunsService, tmp_path: Path
) -> None:
    run = await prepare_run(platform)
    port = free_port()
    env = orchestrator_env(run.spec, tmp_path, ARC_STATUS_ADDRESS=f"127.0.0.1:{port}")
    orch = await start_orchestrator(env, tmp_path)
    await wait_for(lambda: _contains(orch, "status report to"), 10, "a failed status report")
    await asyncio.sleep(1.5)  # down for a while: several retries, and Nextflow finishes meanwhile
    server = grpc.aio.server()
    runs_service_pb2_grpc.add_RunsServiceServicer_to_server(ForwardingRuns(platform.status), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        assert await orch.wait(30) == 0, orch.stderr
    finally:
        await server.stop(None)
    assert await statuses(service, run.run_id) == ["pending", "submitted", "running", "completed"]
    assert len(re.findall(r"status report to \S+ failed \(attempt \d+", orch.stderr)) >= 3
    row = await service.store.get_run(run.run_id)
    assert row.started_at < row.completed_at  # reported in order, with Nextflow's own times


async def _contains(orch: Orchestrator, text: str) -> bool:
    return text in orch.stderr


async def test_failed_log_upload_does_not_fail_a_good_run(
    platform: Running, service: RunsService, tmp_path: Path
) -> None:
    run = await prepare_run(platform)
    # A folder where report.html belongs: its upload fails however often it is tried.
    blocker = Path(service.storage.uri(f"{run.root}/logs/report.html"))
    blocker.mkdir(parents=True)
    code, stderr = await run_orchestrator(orchestrator_env(run.spec, tmp_path), tmp_path)
    assert code == 0, stderr

    row = await service.store.get_run(run.run_id)
    assert row.status == "completed" and row.exit_code == 0
    assert "gave up uploading" in stderr and "report.html" in stderr
    assert blocker.is_dir()
    assert await read_text(service, f"{run.root}/logs/nextflow.log")
    assert await read_text(service, f"{run.root}/logs/timeline.html")


@pytest.fixture(scope="module")
def fake_gcs() -> Iterator[FakeGcs]:
    with run_fake_gcs() as gcs:
        yield gcs


async def test_bucket_run_root_reads_inputs_from_and_writes_logs_to_the_bucket(
    platform: Running, service: RunsService, tmp_path: Path, fake_gcs: FakeGcs
) -> None:
    bucket = GcsStorage(fake_gcs.root("arc"), client=fake_gcs.client)
    # The stand-in only reads local files: the samplesheet, results, work dir and cache stay local here.
    sheet = tmp_path / "samplesheet.csv"
    sheet.write_text(SAMPLESHEET)
    run = await prepare_run(
        platform,
        storage=bucket,
        params={"input": str(sheet), "outdir": str(tmp_path / "results")},
        work_dir=str(tmp_path / "work"),
        cache_uri=str(tmp_path / "cache"),
    )
    assert run.spec.run_root.startswith("gs://")
    env = orchestrator_env(run.spec, tmp_path, STORAGE_EMULATOR_HOST=fake_gcs.endpoint)
    code, stderr = await run_orchestrator(env, tmp_path)
    assert code == 0, stderr

    assert await statuses(service, run.run_id) == ["pending", "submitted", "running", "completed"]
    log = (await bucket.read_bytes(f"{run.root}/logs/nextflow.log")).decode()
    assert "Execution complete -- Goodbye" in log
    rows = trace_rows((await bucket.read_bytes(f"{run.root}/logs/trace.txt")).decode())
    assert len(rows) == 5
    assert {o.key.rsplit("/", 1)[-1] for o in await bucket.list(f"{run.root}/logs")} == {
        "nextflow.log",
        "trace.txt",
        "timeline.html",
        "report.html",
    }


# --------------------------------------------------------------------------------------------------
# a retried attempt after a preempted VM


async def test_a_second_attempt_resumes_its_own_session_and_keeps_the_first_attempts_logs(
    platform: Running, service: RunsService, tmp_path: Path
) -> None:
    # Cloud Batch re-runs the job's task after a preemption (exit 50001, the lifecycle policy) with
    # BATCH_TASK_RETRY_ATTEMPT=1 on a new VM: a new launch dir, the same work dir and cache.
    run = await prepare_run(platform)
    first = await start_orchestrator(
        orchestrator_env(run.spec, tmp_path / "vm1", NXF_FAKE_TASK_SECONDS="0.6", NXF_FAKE_MAX_FORKS="1"),
        tmp_path,
        "first",
    )
    trace_key, log_key = f"{run.root}/logs/trace.txt", f"{run.root}/logs/nextflow.log"

    async def a_task_completed() -> bool:
        return bool(by_status(trace_rows(await read_text(service, trace_key) or ""), "COMPLETED"))

    await wait_for(a_task_completed, 20, "a completed task")
    first.proc.send_signal(signal.SIGTERM)  # the VM is being preempted
    assert await first.wait(15) == 143, first.stderr
    first_log = await read_text(service, log_key) or ""
    first_trace = await read_text(service, trace_key) or ""
    completed1 = by_status(trace_rows(first_trace), "COMPLETED")
    assert completed1 and "Session aborted -- Cause: SIGTERM" in first_log

    wrapper = tmp_path / "nextflow-wrapper"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "$DUMP_DIR/args"\nexec "{STANDIN}" "$@"\n')
    wrapper.chmod(0o755)
    env = orchestrator_env(
        run.spec, tmp_path / "vm2", BATCH_TASK_RETRY_ATTEMPT="1", ARC_NEXTFLOW_BIN=str(wrapper), DUMP_DIR=str(tmp_path)
    )
    code, stderr = await run_orchestrator(env, tmp_path, "second")
    assert code == 0, stderr
    args = (tmp_path / "args").read_text().splitlines()
    assert args[args.index("-resume") + 1] == run.spec.session_id  # its own pinned session, not a new one
    assert args[args.index("-work-dir") + 1] == run.spec.work_dir

    # The first attempt's files are kept as they were; the live log only grew, with a boundary line.
    assert await read_text(service, f"{run.root}/logs/attempts/1/nextflow.log") == first_log
    assert await read_text(service, f"{run.root}/logs/attempts/1/trace.txt") == first_trace
    log = await read_text(service, log_key) or ""
    assert log.startswith(first_log)
    assert "==== attempt 2: the VM of attempt 1 was preempted" in log[len(first_log) :]
    rows = trace_rows(await read_text(service, trace_key) or "")
    assert completed1 <= by_status(rows, "CACHED")  # the finished tasks were not run again
    row = await service.store.get_run(run.run_id)
    assert row.status == "completed" and row.exit_code == 0
    assert str(row.nextflow_session_id) == run.spec.session_id
