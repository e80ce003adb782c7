"""Kill the platform (SIGKILL) while runs are active, start it again: every run ends in its true state.

Orchestrators run in their own process groups, so they outlive the platform and keep retrying their
status reports; the restarted local executor re-queues the run that had not started yet.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.inputs import TEST_INPUTS as DATA
from tests.support.platform import kill_orchestrators

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "arc_platform", "serve", "--target", "all"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/api/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("platform did not start: " + log.read_text()[-3000:])


def statuses(base: str, run_ids: list[str]) -> dict[str, str]:
    return {r: httpx.get(f"{base}/api/runs/{r}", headers=HEADERS, timeout=10).json()["status"] for r in run_ids}


@pytest.fixture
async def dsn(make_database) -> str:
    return await make_database()


@pytest.mark.timeout(240)
def test_kill_the_platform_and_restart(dsn: str, tmp_path: Path) -> None:
    http = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ARC_")},
        "DATABASE_URL": dsn,
        "ARC_DATA_DIR": str(tmp_path / "data"),
        "ARC_HTTP_PORT": str(http),
        "ARC_GRPC_PORT": str(free_port()),
        "ARC_STATUS_PORT": str(free_port()),  # the same across the restart: orchestrators keep reporting there
        "ARC_NEXTFLOW_BIN": str(ROOT / "tests" / "fakes" / "nextflow"),
        "ARC_INPUT_LOCATIONS": str(DATA),
        "ARC_LOCAL_MAX_CONCURRENT_RUNS": "2",
        "ARC_RECONCILE_INTERVAL_SECONDS": "0.5",
        "ARC_RECONCILE_GRACE_SECONDS": "3",
        "ARC_LOG_SYNC_SECONDS": "0.3",
        "NXF_FAKE_TASK_SECONDS": "1.0",
    }
    base = f"http://127.0.0.1:{http}"
    log = tmp_path / "platform.log"
    proc = start(env, log)
    try:
        wait_ready(base, proc, log)
        body = {
            "pipeline": "demo/hello",
            "pipeline_version": "1.0.0",
            "params": {"greeting": "hi"},
            "samplesheet_csv": f"sample,fastq_1,fastq_2\na,{DATA}/a_1.fastq.gz,{DATA}/a_2.fastq.gz\n"
            f"b,{DATA}/b_1.fq.gz,{DATA}/b_2.fq.gz\n",
        }
        run_ids = [
            httpx.post(f"{base}/api/runs", json=body, headers=HEADERS, timeout=30).json()["run_id"] for _ in range(3)
        ]
        deadline = time.monotonic() + 30
        while "running" not in statuses(base, run_ids).values():
            assert time.monotonic() < deadline, statuses(base, run_ids)
            time.sleep(0.2)
        before = statuses(base, run_ids)
        assert list(before.values()).count("submitted") >= 1  # the third waits for a slot
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(1.0)
        proc = start(env, log)
        wait_ready(base, proc, log)
        deadline = time.monotonic() + 120
        while True:
            now = statuses(base, run_ids)
            if all(s in ("completed", "failed", "cancelled") for s in now.values()):
                break
            assert time.monotonic() < deadline, (now, log.read_text()[-4000:])
            time.sleep(0.5)
        assert set(now.values()) == {"completed"}, (before, now, log.read_text()[-4000:])
        for run_id in run_ids:
            trace = httpx.get(f"{base}/api/runs/{run_id}/files", headers=HEADERS, timeout=10).json()["logs"]
            assert "logs/trace.txt" in {f["path"] for f in trace}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        kill_orchestrators(tmp_path / "data")
