"""Start the real platform (gRPC services + gateway) in the test's event loop, on free ports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from arc.runs.v1 import runs_service_pb2_grpc
from arc_core.settings import Settings
from arc_platform.runtime import Platform
from tests.support.inputs import with_test_inputs


def email_metadata(email: str) -> tuple[tuple[str, str], ...]:
    return (("x-goog-authenticated-user-email", f"accounts.google.com:{email}"),)


@dataclass
class Running:
    platform: Platform
    channel: grpc.aio.Channel
    http: httpx.AsyncClient
    status_channel: grpc.aio.Channel

    @property
    def runs(self) -> runs_service_pb2_grpc.RunsServiceStub:
        return runs_service_pb2_grpc.RunsServiceStub(self.channel)

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.platform.grpc_port}"

    @property
    def status_address(self) -> str:
        """Runs' status port (ReportRunStatus and health only), where orchestrators report."""
        return f"127.0.0.1:{self.platform.side_ports['status']}"

    @property
    def status(self) -> runs_service_pb2_grpc.RunsServiceStub:
        """A RunsService stub on the status port: only ReportRunStatus answers there."""
        return runs_service_pb2_grpc.RunsServiceStub(self.status_channel)

    def service(self, name: str):  # type: ignore[no-untyped-def]
        return self.platform.services[name]


@asynccontextmanager
async def running_platform(
    *, database_url: str, data_dir: Path, targets: list[str] | None = None, **overrides: object
) -> AsyncIterator[Running]:
    if "input_locations" not in overrides and not str(overrides.get("storage_root") or "").startswith("gs://"):
        # The embedded defaults (demo FASTQ folder, data_dir/inputs) plus the tests' placeholder inputs.
        defaults = Settings(data_dir=data_dir, **overrides).resolved_input_locations  # type: ignore[arg-type]
        overrides["input_locations"] = with_test_inputs(defaults)
    defaults: dict[str, object] = {
        "grpc_port": 0,
        "status_port": 0,
        "http_port": 0,
        "admin_emails": frozenset({"admin@example.com"}),
    }
    settings = Settings(database_url=database_url, data_dir=data_dir, **{**defaults, **overrides})  # type: ignore[arg-type]
    platform = Platform(settings=settings, targets=targets or ["runs", "logs", "pipelines", "benchling", "gateway"])
    await platform.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.grpc_port}")
    # Any channel: the status port exists only when Runs is among the targets.
    status_channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.side_ports.get('status', platform.grpc_port)}")
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.http_port}", timeout=30)
    try:
        yield Running(platform=platform, channel=channel, http=http, status_channel=status_channel)
    finally:
        await http.aclose()
        await channel.close()
        await status_channel.close()
        await platform.stop()
        kill_orchestrators(data_dir)


NEXTFLOW_STANDIN = str(Path(__file__).resolve().parents[1] / "fakes" / "nextflow")


@asynccontextmanager
async def standin_platform(*, database_url: str, data_dir: Path, **overrides: object) -> AsyncIterator[Running]:
    """The whole platform whose runs really run: the local executor starts the orchestrator with the Nextflow
    stand-in, with quick tasks and log syncs."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NXF_FAKE_TASK_SECONDS", "0.05")
        env.setenv("ARC_LOG_SYNC_SECONDS", "0.2")
        async with running_platform(
            database_url=database_url, data_dir=data_dir, nextflow_bin=NEXTFLOW_STANDIN, **overrides
        ) as running:
            yield running


def kill_orchestrators(data_dir: Path) -> None:
    """Test hygiene: orchestrators outlive the platform by design (a restart must not kill runs), so a
    test platform that goes away for good takes its still-running orchestrators with it."""
    for state in (data_dir / "executor").glob("*/job.json"):
        try:
            pid = json.loads(state.read_text()).get("pid")
        except (OSError, ValueError):
            continue
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
