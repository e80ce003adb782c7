"""Benchmark: GetMetadata under 200 concurrent callers on a cold cache, against the demo warehouse.

Starts an embedded PostgreSQL in a /tmp directory and seeds the demo Benchling warehouse, then fires the
callers at once, two ways:

1. ``Warehouse.get_metadata`` directly (the domain object);
2. through the Benchling service over real gRPC (the platform's Benchling + Pipelines services, as
   the gateway reaches them).

Each round starts on a cold cache, then repeats warm (served from the cache). Prints the warehouse
queries per round (must be exactly 1 each) and latency percentiles. Exits non-zero otherwise.

    .venv/bin/python bench/bench_benchling_metadata.py [--callers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _summary(label: str, latencies: list[float]) -> str:
    ms = [v * 1000 for v in latencies]
    return f"{label:<28} p50 {_percentile(ms, 50):8.3f} ms   p99 {_percentile(ms, 99):8.3f} ms   max {max(ms):8.3f} ms"


async def _round(call: Callable[[], Awaitable[object]], callers: int) -> tuple[list[float], float]:
    start_gate = asyncio.Event()
    latencies: list[float] = []

    async def caller() -> None:
        await start_gate.wait()
        t0 = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - t0)

    tasks = [asyncio.create_task(caller()) for _ in range(callers)]
    await asyncio.sleep(0)  # every caller is now waiting at the gate
    t0 = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - t0


async def _cold_and_warm(
    label: str, call: Callable[[], Awaitable[object]], queries: Callable[[], int], callers: int
) -> bool:
    """One cold round and one warm round; True when the cold round made exactly one query and warm none."""
    before = queries()
    cold, cold_wall = await _round(call, callers)
    cold_queries = queries() - before
    warm, warm_wall = await _round(call, callers)
    total = queries() - before
    print(f"-- {label}")
    print(f"warehouse queries (cold)     {cold_queries}")
    print(f"warehouse queries (total)    {total}")
    print(_summary("latency, cold cache", cold) + f"   wall {cold_wall * 1000:.2f} ms")
    print(_summary("latency, warm cache", warm) + f"   wall {warm_wall * 1000:.2f} ms")
    return cold_queries == 1 and total == 1


async def _direct(dsn: str, callers: int) -> bool:
    from services.benchling.mapping import load_mapping
    from services.benchling.warehouse import Warehouse

    warehouse = Warehouse(dsn, load_mapping())
    try:
        ok = await _cold_and_warm(
            "Warehouse.get_metadata (direct)", warehouse.get_metadata, lambda: warehouse.query_count, callers
        )
        metadata = await warehouse.get_metadata()
    finally:
        await warehouse.close()
    print(
        f"metadata                     {len(metadata.projects)} projects, {len(metadata.instruments)} instruments,"
        f" facets {', '.join(f'{k}={len(v)}' for k, v in metadata.facets.items())}"
    )
    return ok


async def _through_service(dsn: str, data_dir: Path, callers: int) -> bool:
    import grpc

    from arc.benchling.v1 import benchling_service_pb2, benchling_service_pb2_grpc
    from arc_core.settings import Settings
    from arc_platform.runtime import Platform

    settings = Settings(database_url=dsn, data_dir=data_dir, grpc_port=0, http_port=0)
    platform = Platform(settings=settings, targets=["pipelines", "benchling"])
    await platform.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.grpc_port}")
    try:
        service = platform.services["benchling"]
        stub = benchling_service_pb2_grpc.BenchlingServiceStub(channel)
        metadata = (("x-goog-authenticated-user-email", "accounts.google.com:bench@example.com"),)

        def grpc_call() -> Awaitable[object]:
            return stub.GetMetadata(benchling_service_pb2.GetMetadataRequest(), metadata=metadata)

        queries = lambda: service.query_count  # noqa: E731 - readiness pings are not counted
        ok = await _cold_and_warm("GetMetadata over gRPC (Benchling service)", grpc_call, queries, callers)
    finally:
        await channel.close()
        await platform.stop()
    return ok


async def _bench(admin_dsn: str, data_dir: Path, callers: int) -> int:
    import asyncpg

    from services.benchling.demo_warehouse import ensure_demo_warehouse

    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute('CREATE DATABASE "arc_bench_benchling"')
    finally:
        await conn.close()
    dsn = urlunsplit(urlsplit(admin_dsn)._replace(path="/arc_bench_benchling"))
    conn = await asyncpg.connect(dsn)
    try:
        await ensure_demo_warehouse(conn)
    finally:
        await conn.close()

    print(f"callers                      {callers}")
    ok = await _direct(dsn, callers)
    ok = await _through_service(dsn, data_dir, callers) and ok
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "gen"))
    from arc_platform.embedded_pg import start_embedded_postgres

    # Not under /root: pgserver runs postgres as an unprivileged user when started as root.
    tmp = Path(tempfile.mkdtemp(prefix="arc-bench-pg-", dir="/tmp"))
    pg = start_embedded_postgres(tmp / "pgdata")
    try:
        status = asyncio.run(_bench(pg.dsn, tmp / "arc", args.callers))
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("OK: exactly one warehouse query per cold round" if status == 0 else "FAIL: more than one warehouse query")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
