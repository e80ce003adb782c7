"""Shared bench plumbing: an embedded PostgreSQL and the platform in a child process, timing helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from arc_platform.embedded_pg import start_embedded_postgres  # noqa: E402
from services.runs.store import NewRun, RunStore  # noqa: E402


async def insert_pending_run(store: RunStore, owner: str, **overrides: object) -> str:
    """A pending run straight in the store (what the bench reads or watches)."""
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    fields: dict[str, object] = dict(
        run_id=run_id,
        pipeline="nf-core/scrnaseq",
        pipeline_version="2.7.1",
        user_email=owner,
        user_name=None,
        gcs_path="/tmp",
        params={"genome": "GRCh38", "protocol": "10XV3"},
        sample_count=4,
        source_ngs_runs=None,
        source_project=None,
        nextflow_session_id=str(uuid.uuid4()),
        orchestrator_token_sha256=b"x",
        request_id=None,
    )
    fields.update(overrides)
    await store.insert_run(NewRun(**fields))  # type: ignore[arg-type]
    return run_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def embedded_database() -> Iterator[str]:
    """A throw-away PostgreSQL (not under /root: pgserver runs postgres unprivileged)."""
    tmp = Path(tempfile.mkdtemp(prefix="arc-bench-pg-", dir="/tmp"))
    pg = start_embedded_postgres(tmp / "pgdata")
    try:
        yield pg.dsn
    finally:
        pg.stop()


@dataclass(frozen=True)
class Child:
    grpc_port: int
    http_port: int
    proc: subprocess.Popen


@contextlib.contextmanager
def platform_process(
    database_url: str, *targets: str, grpc_port: int | None = None, http_port: int | None = None, **env: str
) -> Iterator[Child]:
    """``arc serve`` in a child process (its own CPU time, like a real deployment), until its ports answer.

    ``env`` adds settings (``ARC_DATA_DIR`` defaults to a fresh temporary folder).
    """
    grpc_port, http_port = grpc_port or free_port(), http_port or free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ARC_DATA_DIR": tempfile.mkdtemp(prefix="arc-bench-data-", dir="/tmp"),
        "ARC_STATUS_PORT": str(free_port()),  # the orchestrators' port: a second platform may hold the default
        **env,
        "ARC_GRPC_PORT": str(grpc_port),
        "ARC_HTTP_PORT": str(http_port),
    }
    args = [sys.executable, "-m", "arc_platform", "serve"]
    for target in targets:
        args += ["--target", target]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", grpc_port), timeout=1):
                    pass
                if (
                    not {"gateway", "all"} & set(targets)
                    or httpx.get(f"http://127.0.0.1:{http_port}/api/health").is_success
                ):
                    break
            except (OSError, httpx.HTTPError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"arc serve {targets} did not start")
            time.sleep(0.2)
        yield Child(grpc_port, http_port, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return (
        f"n={len(ordered)} p50={pick(0.50):.2f}ms p90={pick(0.90):.2f}ms p99={pick(0.99):.2f}ms "
        f"max={ordered[-1]:.2f}ms mean={statistics.fmean(ordered):.2f}ms"
    )
