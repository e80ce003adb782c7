"""1,000 concurrent WatchRun streams on one Runs process: latency from a status change to every watcher.

Target (issue 2): p99 < 500 ms from the change to the last watcher, with the number of database
connections independent of the number of watchers (one LISTEN connection fans out to all).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import grpc
from _support import embedded_database, insert_pending_run, percentiles, platform_process

from arc.runs.v1 import runs_service_pb2, runs_service_pb2_grpc
from arc_core.db import create_pool
from services.runs.schema import migrate
from services.runs.store import RunStore

OWNER = "watcher@example.com"
MOVES = ("submitted", "running", "completed")


async def backend_connections(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()


async def run(dsn: str, grpc_port: int, watchers: int, channels: int) -> None:
    pool = await create_pool(dsn, max_size=2)
    store = RunStore(pool)
    run_id = await insert_pending_run(store, OWNER)
    meta = (("x-goog-authenticated-user-email", OWNER),)
    chans = [grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") for _ in range(channels)]
    baseline = await backend_connections(dsn)
    received: dict[str, list[float]] = {m: [] for m in MOVES}
    everyone_heard = {m: asyncio.Event() for m in MOVES}
    ready = 0
    all_ready = asyncio.Event()

    async def watch(i: int) -> None:
        nonlocal ready
        stub = runs_service_pb2_grpc.RunsServiceStub(chans[i % channels])
        call = stub.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=meta)
        await call.read()  # the current state
        ready += 1
        if ready == watchers:
            all_ready.set()
        while (event := await call.read()) is not grpc.aio.EOF:
            status = event.status.Status.Name(event.status.status).lower()
            received[status].append(time.perf_counter())
            if len(received[status]) == watchers:
                everyone_heard[status].set()

    started = time.perf_counter()
    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    await asyncio.wait_for(all_ready.wait(), 120)
    print(f"{watchers} watchers connected in {time.perf_counter() - started:.2f} s over {channels} channels")
    during = await backend_connections(dsn)
    for move in MOVES:
        await asyncio.sleep(1.0)
        before = time.perf_counter()
        await store.move(run_id, move, reason="bench", actor="bench")
        committed = time.perf_counter()
        await asyncio.wait_for(everyone_heard[move].wait(), 30)
        latencies = [(t - committed) * 1000 for t in received[move]]
        print(
            f"-> {move:<10} commit took {(committed - before) * 1000:.1f} ms; change -> watcher: "
            f"{percentiles(latencies)}; last watcher after {max(latencies):.1f} ms"
        )
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    print(
        f"database connections: {baseline} with no watcher, {during} with {watchers} watchers (this script"
        " holds 1-2; the service its pool, at most ARC_DB_POOL_MAX=10, plus one LISTEN connection)"
    )
    for ch in chans:
        await ch.close()
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=10)
    args = parser.parse_args()
    with embedded_database() as dsn:
        asyncio.run(migrate(dsn))
        with platform_process(dsn, "runs") as child:
            asyncio.run(run(dsn, child.grpc_port, args.watchers, args.channels))


if __name__ == "__main__":
    main()
