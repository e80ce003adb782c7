"""Benchmark: GetMetadata under 200 concurrent callers on a cold cache, against the demo warehouse.

Starts an embedded PostgreSQL in a /tmp directory, seeds the demo Benchling warehouse, then fires the
callers at once. Prints the number of warehouse queries (must be exactly 1) and latency percentiles,
cold and then warm (served from the cache). Exits non-zero if more than one query ran.

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


async def _round(warehouse: object, callers: int) -> tuple[list[float], float]:
    start_gate = asyncio.Event()
    latencies: list[float] = []

    async def caller() -> None:
        await start_gate.wait()
        t0 = time.perf_counter()
        await warehouse.get_metadata()  # type: ignore[attr-defined]
        latencies.append(time.perf_counter() - t0)

    tasks = [asyncio.create_task(caller()) for _ in range(callers)]
    await asyncio.sleep(0)  # every caller is now waiting at the gate
    t0 = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - t0


async def _bench(admin_dsn: str, callers: int) -> int:
    import asyncpg

    from services.benchling.demo_warehouse import ensure_demo_warehouse
    from services.benchling.mapping import load_mapping
    from services.benchling.warehouse import Warehouse

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

    warehouse = Warehouse(dsn, load_mapping())
    try:
        cold, cold_wall = await _round(warehouse, callers)
        cold_queries = warehouse.query_count
        warm, warm_wall = await _round(warehouse, callers)
        metadata = await warehouse.get_metadata()
    finally:
        await warehouse.close()

    print(f"callers                      {callers}")
    print(f"warehouse queries (cold)     {cold_queries}")
    print(f"warehouse queries (total)    {warehouse.query_count}")
    print(_summary("latency, cold cache", cold) + f"   wall {cold_wall * 1000:.2f} ms")
    print(_summary("latency, warm cache", warm) + f"   wall {warm_wall * 1000:.2f} ms")
    print(
        f"metadata                     {len(metadata.projects)} projects, {len(metadata.instruments)} instruments,"
        f" facets {', '.join(f'{k}={len(v)}' for k, v in metadata.facets.items())}"
    )
    return 0 if cold_queries == 1 and warehouse.query_count == 1 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from arc_core.embedded_pg import start_embedded_postgres

    # Not under /root: pgserver runs postgres as an unprivileged user when started as root.
    tmp = Path(tempfile.mkdtemp(prefix="arc-bench-pg-", dir="/tmp"))
    pg = start_embedded_postgres(tmp / "pgdata")
    try:
        status = asyncio.run(_bench(pg.dsn, args.callers))
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("OK: exactly one warehouse query" if status == 0 else "FAIL: more than one warehouse query")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
