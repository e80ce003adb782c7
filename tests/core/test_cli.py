"""`arc serve --target all` on the embedded defaults (starts everything, Ctrl-C stops everything), and `arc migrate`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.inputs import TEST_INPUTS
from tests.support.platform import kill_orchestrators

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().splitlines()[0]) if pid_file.exists() else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("platform did not become ready")


def start(data_dir: Path, http: int, grpc: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ARC_DATABASE_URL")}
    env.update(ARC_DATA_DIR=str(data_dir), ARC_HTTP_PORT=str(http), ARC_GRPC_PORT=str(grpc), ARC_STATUS_PORT="0")
    env["ARC_INPUT_LOCATIONS"] = str(TEST_INPUTS)  # the placeholder FASTQ files the samplesheet names
    return subprocess.Popen(
        [sys.executable, "-m", "arc_platform", "serve", "--target", "all"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.timeout(180)
def test_serve_all_embedded_then_ctrl_c(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = Path(tmp_path_factory.mktemp("arc-cli", numbered=True))
    http, grpc = free_port(), free_port()
    proc = start(data_dir, http, grpc)
    try:
        ready = wait_ready(f"http://127.0.0.1:{http}/api/health/ready", proc)
        assert ready.json()["status"] == "ready"
        headers = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
        created = httpx.post(
            f"http://127.0.0.1:{http}/api/runs",
            headers=headers,
            json={
                "pipeline": "demo/hello",
                "pipeline_version": "1.0.0",
                "samplesheet_csv": (ROOT / "tests" / "core" / "data" / "hello_samplesheet.csv")
                .read_text()
                .replace("data/", f"{TEST_INPUTS}/"),
                "params": {"greeting": "hi"},
            },
            timeout=30,
        )
        assert created.status_code == 201, created.text
        pg = postgres_pid(data_dir)
        assert pg is not None and alive(pg)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        kill_orchestrators(data_dir)
    assert proc.returncode == 0, output
    deadline = time.monotonic() + 10
    while alive(pg) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pg), "the embedded PostgreSQL outlived the platform"

    # Data is kept between restarts.
    proc = start(data_dir, http, grpc)
    try:
        wait_ready(f"http://127.0.0.1:{http}/api/health/ready", proc)
        listed = httpx.get(f"http://127.0.0.1:{http}/api/runs", headers=headers, timeout=10).json()
        assert created.json()["run_id"] in {r["run_id"] for r in listed["runs"]}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        kill_orchestrators(data_dir)
    assert proc.returncode == 0


async def test_benchling_with_its_own_warehouse_starts_no_embedded_database(tmp_path: Path) -> None:
    """Only Runs and the demo warehouse need the platform database; a real warehouse DSN does not."""
    from arc_core.settings import Settings
    from arc_platform.runtime import Platform

    settings = Settings(
        _env_file=None,
        database_url=None,
        data_dir=tmp_path,
        grpc_port=0,
        benchling_warehouse_url=f"postgresql://arc:pw@127.0.0.1:{free_port()}/warehouse",
    )
    platform = Platform(settings=settings, targets=["benchling", "pipelines"])
    await platform.start()
    try:
        assert platform.database_url is None
        assert not (tmp_path / "pgdata").exists()
    finally:
        await platform.stop()


@pytest.mark.timeout(120)
async def test_migrate_applies_the_runs_schema_and_exits(make_database, tmp_path: Path) -> None:
    """`arc migrate` (the Kubernetes migrate Job's command) brings DATABASE_URL to the Runs schema."""
    dsn = await make_database()
    env = {**os.environ, "DATABASE_URL": dsn, "ARC_DATA_DIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arc_platform",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, output.decode()
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('public.runs') IS NOT NULL")
    finally:
        await conn.close()
