"""Logs tests: one running platform (Runs + Logs + gateway) per module, runs inserted straight in the store,
realistic files from the ``nextflow`` stand-in, and a Logs server of its own for other backends."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from arc.logs.v1 import logs_service_pb2_grpc
from arc_core.grpc_server import HealthReporter, build_server
from arc_core.identity import Authenticator
from arc_core.settings import Settings
from arc_core.storage import LocalStorage, Storage
from services.logs import server as logs_server
from services.logs.service import LogsService
from services.logs.task_logs import TaskLogBackend
from services.runs.service import RunsService
from tests.support.platform import Running, email_metadata, running_platform
from tests.support.runs import insert_run as support_insert_run

FIXTURES = Path(__file__).parent / "fixtures"
STANDIN = Path(__file__).resolve().parents[1] / "fakes" / "nextflow"
ALICE = email_metadata("alice@example.com")
BOB = email_metadata("bob@example.com")
ADMIN = email_metadata("admin@example.com")
ALICE_HEADERS = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
BOB_HEADERS = {"X-Goog-Authenticated-User-Email": "accounts.google.com:bob@example.com"}
ADMIN_HEADERS = {"X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com"}


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    dsn = await make_database()
    async with running_platform(
        database_url=dsn,
        data_dir=tmp_path_factory.mktemp("arc"),
        targets=["runs", "logs", "gateway"],
        reconcile_interval_seconds=3600.0,
    ) as running:
        yield running


@pytest.fixture
def runs_service(platform: Running) -> RunsService:
    return platform.service("runs")


@pytest.fixture
def logs_service(platform: Running) -> LogsService:
    return platform.service("logs")


@pytest.fixture
def storage(logs_service: LogsService) -> LocalStorage:
    assert isinstance(logs_service.storage, LocalStorage)
    return logs_service.storage


@pytest.fixture
def logs(platform: Running) -> logs_service_pb2_grpc.LogsServiceStub:
    return logs_service_pb2_grpc.LogsServiceStub(platform.channel)


def new_run_id() -> str:
    return f"run-{secrets.token_hex(4)}"


async def insert_run(
    service: RunsService, owner: str = "alice@example.com", *, status: str = "running", **overrides: object
) -> str:
    """A run straight in the store, moved along the state machine to ``status`` (through running)."""
    run_id = str(overrides.pop("run_id", None) or new_run_id())
    overrides.setdefault("gcs_path", f"runs/{run_id}")
    first = status if status in ("pending", "submitted", "running") else "running"
    run_id = await support_insert_run(service.store, status=first, run_id=run_id, owner=owner, **overrides)
    if first != status:
        await service.store.move(run_id, status, reason="test", actor="test")
    return run_id


async def end_run(service: RunsService, run_id: str, status: str = "completed") -> None:
    await service.store.move(run_id, status, reason="test", actor="test")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def put(storage: Storage, run_id: str, name: str, data: bytes) -> None:
    await storage.write_bytes(f"runs/{run_id}/logs/{name}", data)


def append_local(storage: LocalStorage, run_id: str, name: str, data: bytes) -> None:
    """Append like a growing file (not an atomic replace)."""
    path = storage.root / "runs" / run_id / "logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(data)


# --------------------------------------------------------------------------------------- the stand-in


def nf_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NXF_")}
    env["NXF_FAKE_TASK_SECONDS"] = "0.05"
    env.update(extra)
    return env


@dataclass
class StandinRun:
    launch: Path
    work: Path
    logs: Path
    process: subprocess.Popen[str] | None = None

    def copy_logs(self, storage_root: Path, run_id: str) -> None:
        """What the orchestrator does every few seconds: copy the log and the trace to the run's logs/."""
        dest = storage_root / "runs" / run_id / "logs"
        dest.mkdir(parents=True, exist_ok=True)
        for src, name in ((self.launch / ".nextflow.log", "nextflow.log"), (self.logs / "trace.txt", "trace.txt")):
            if src.exists():
                tmp = dest / f".{name}.tmp-copy"
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest / name)
        for name in ("timeline.html", "report.html"):
            if (self.logs / name).exists():
                shutil.copyfile(self.logs / name, dest / name)


def start_standin(
    launch: Path, work: Path, *, fail_task: str | None = None, task_seconds: float = 0.05, samples: int = 2
) -> StandinRun:
    """Start ``nextflow run`` of the stand-in with the orchestrator's command line (not waiting for it)."""
    launch.mkdir(parents=True, exist_ok=True)
    sheet = launch / "samplesheet.csv"
    rows = "".join(f"sample{i},s{i}_R1.fastq.gz,s{i}_R2.fastq.gz,5000\n" for i in range(1, samples + 1))
    sheet.write_text("sample,fastq_1,fastq_2,expected_cells\n" + rows, encoding="utf-8")
    params = {"input": str(sheet), "outdir": str(launch / "results")}
    if fail_task:
        params["fail_task"] = fail_task
    (launch / "params.yaml").write_text("".join(f'{k}: "{v}"\n' for k, v in params.items()), encoding="utf-8")
    (launch / "nextflow.config").write_text("process {\n    executor = 'local'\n}\n", encoding="utf-8")
    logs = launch / "nf-logs"
    args = [
        str(STANDIN), "run", "nf-core/scrnaseq", "-r", "2.7.1", "-c", str(launch / "nextflow.config"),
        "-params-file", str(launch / "params.yaml"), "-work-dir", str(work),
        "-with-trace", str(logs / "trace.txt"), "-with-timeline", str(logs / "timeline.html"),
        "-with-report", str(logs / "report.html"), "-ansi-log", "false",
    ]  # fmt: skip
    env = nf_env(NXF_FAKE_TASK_SECONDS=str(task_seconds))
    process = subprocess.Popen(
        args, cwd=launch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    return StandinRun(launch=launch, work=work, logs=logs, process=process)


async def run_standin(storage_root: Path, run_id: str, tmp: Path, **kwargs: object) -> StandinRun:
    """A whole stand-in run whose work dir is the run's, its logs copied to the run's logs/ at the end."""
    nf = start_standin(tmp / run_id, storage_root / "runs" / run_id / "work", **kwargs)  # type: ignore[arg-type]
    assert nf.process is not None
    await asyncio.to_thread(nf.process.wait, 60)
    nf.copy_logs(storage_root, run_id)
    return nf


# ------------------------------------------------------------------------------- a Logs server of its own


@dataclass
class LogsServer:
    service: LogsService
    channel: grpc.aio.Channel

    @property
    def stub(self) -> logs_service_pb2_grpc.LogsServiceStub:
        return logs_service_pb2_grpc.LogsServiceStub(self.channel)


@asynccontextmanager
async def serve_logs(
    platform: Running, *, storage: Storage | None = None, backend: TaskLogBackend | None = None, **settings: object
) -> AsyncIterator[LogsServer]:
    """The Logs service on a server of its own (other storage or task-log backend), calling the platform's Runs."""
    base = platform.platform.settings
    config = Settings(
        database_url=base.database_url,
        data_dir=base.data_dir,
        admin_emails=base.admin_emails,
        runs_address=f"127.0.0.1:{platform.platform.grpc_port}",
        **settings,  # type: ignore[arg-type]
    )
    registration, service = await logs_server.build(config, storage=storage, task_logs=backend)
    server, interceptor = build_server(Authenticator(config))
    registration.add_to_server(server)
    HealthReporter().add_to_server(server, [registration.name])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield LogsServer(service=service, channel=channel)
    finally:
        await channel.close()
        await server.stop(grace=1)
        for hook in registration.on_stop:
            await hook()


# ------------------------------------------------------------------------------------------------- SSE


@dataclass
class SseEvent:
    event: str
    data: str
    id: str | None


async def sse_events(response) -> AsyncIterator[SseEvent]:  # type: ignore[no-untyped-def]
    """Parse a ``text/event-stream`` body (comments and keep-alives skipped)."""
    event, data, event_id = "message", [], None
    async for line in response.aiter_lines():
        line = line.rstrip("\r")
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data), event_id)
            event, data, event_id = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
