"""GetSystemInfo on 1,000,000 runs: what counting runs by status costs, and the RPC as callers see it.

Runs by status are platform totals, so every count reads every run. Two ways are timed in SQL: a plain
``GROUP BY status`` and the store's one ``count(*)`` per status on idx_runs_status_created_at (an index-only
scan once the table is vacuumed), before and after ``VACUUM`` (autovacuum's job in production).
Then the RPC through the Runs service (its own process), whose counts are cached for a few seconds: most
calls answer from the cache, one every few seconds pays a count.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import grpc
from _support import embedded_database, percentiles, platform_process
from bench_list_runs import seed

from arc.runs.v1 import runs_service_pb2, runs_service_pb2_grpc
from arc_core.contracts.run_status import STATUSES
from services.runs.store import RunStore

GROUP_BY = "SELECT status, count(*) FROM runs GROUP BY status"


async def time_sql(dsn: str, iterations: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    store = RunStore(pool)
    try:
        for label in ("after ANALYZE", "after VACUUM"):
            if label == "after VACUUM":
                await pool.execute("VACUUM (ANALYZE) runs")
            for name, count in (
                ("GROUP BY status", lambda: pool.fetch(GROUP_BY)),
                ("store (count(*) per status)", store.count_runs_by_status),
            ):
                await count()  # warm-up
                samples = []
                for _ in range(iterations):
                    started = time.perf_counter()
                    await count()
                    samples.append((time.perf_counter() - started) * 1000)
                print(f"{label:<14} {name:<28} {percentiles(samples)}")
        print("counts:", await store.count_runs_by_status())
        plan = await pool.fetch("EXPLAIN SELECT count(*) FROM runs WHERE status = $1", STATUSES[0])
        print("plan of one status' count:", " / ".join(row[0].strip() for row in plan))
    finally:
        await pool.close()


async def time_rpc(grpc_port: int, iterations: int) -> None:
    meta = (("x-goog-authenticated-user-email", "accounts.google.com:someone@example.com"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = runs_service_pb2_grpc.RunsServiceStub(channel)
        request = runs_service_pb2.GetSystemInfoRequest()
        started = time.perf_counter()
        first = await stub.GetSystemInfo(request, metadata=meta)
        print(f"GetSystemInfo, first call (counts the runs): {(time.perf_counter() - started) * 1000:.1f} ms")
        samples = []
        for _ in range(iterations):
            started = time.perf_counter()
            await stub.GetSystemInfo(request, metadata=meta)
            samples.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)  # a few seconds in all: some calls find the cache expired
        print(f"GetSystemInfo, {iterations} calls over ~{iterations * 0.01:.0f} s:   {percentiles(samples)}")
        slow = [(i, round(ms)) for i, ms in enumerate(samples) if ms > 50]
        print(f"calls over 50 ms (index, ms): {slow}")
        print(f"total runs: {sum(first.runs_by_status.values()):,}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rpc-iterations", type=int, default=1000)
    args = parser.parse_args()
    with embedded_database() as dsn:
        asyncio.run(seed(dsn, args.runs))
        asyncio.run(time_sql(dsn, args.iterations))
        with platform_process(dsn, "runs", ARC_STATUS_PORT="0") as child:
            asyncio.run(time_rpc(child.grpc_port, args.rpc_iterations))


if __name__ == "__main__":
    main()
