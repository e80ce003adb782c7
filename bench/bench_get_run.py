"""GET /api/runs/{id} through the gateway vs gRPC GetRun direct vs a bare asyncpg fetch, side by side.

The services and the gateway run in one child process (`arc serve`), the load comes from this
process with the same concurrency for each path; figures are requests per second and their ratios.
All three are limited by this 2-core machine, the client's own Python overhead included.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import time

import grpc
import httpx
from _support import embedded_database, insert_pending_run, platform_process

from arc.runs.v1 import runs_service_pb2, runs_service_pb2_grpc
from arc_core.db import create_pool
from services.runs.schema import migrate
from services.runs.store import _SELECT, RunStore

OWNER = "reader@example.com"


async def load(name: str, call, seconds: float, concurrency: int) -> float:
    for _ in range(50):
        await call()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = done / (time.perf_counter() - started)
    print(f"{name:<34} {rate:>9.0f} req/s")
    return rate


async def wrk(url: str, header: str, seconds: float, concurrency: int) -> float | None:
    """Requests/s measured by wrk (a C client: the Python client is slower than the gateway)."""
    if shutil.which("wrk") is None:
        print("(wrk not installed: `apt-get install wrk` for client-independent HTTP figures)")
        return None
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{concurrency}", f"-d{int(seconds)}s", "-H", header, url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.decode())
    return float(match.group(1)) if match else None


async def run(dsn: str, grpc_port: int, http_port: int, seconds: float, concurrency: int) -> None:
    pool = await create_pool(dsn, max_size=concurrency)
    store = RunStore(pool)
    run_id = await insert_pending_run(store, OWNER)
    headers = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{OWNER}"}
    meta = (("x-goog-authenticated-user-email", f"accounts.google.com:{OWNER}"),)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", limits=limits, headers=headers) as http,
        grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
    ):
        stub = runs_service_pb2_grpc.RunsServiceStub(channel)
        request = runs_service_pb2.GetRunRequest(run_id=run_id)

        async def via_gateway() -> None:
            response = await http.get(f"/api/runs/{run_id}")
            response.raise_for_status()

        async def via_grpc() -> None:
            await stub.GetRun(request, metadata=meta)

        async def gateway_health() -> None:
            (await http.get("/api/health")).raise_for_status()

        async def via_asyncpg() -> None:
            async with pool.acquire() as conn:
                await conn.fetchrow(f"SELECT {_SELECT} FROM runs WHERE run_id = $1", run_id)

        print(f"concurrency {concurrency}, {seconds:.0f} s each")
        db = await load("bare asyncpg fetch", via_asyncpg, seconds, concurrency)
        rpc = await load("gRPC GetRun (service)", via_grpc, seconds, concurrency)
        rest = await load("GET /api/runs/{id} (gateway, httpx)", via_gateway, seconds, concurrency)
        await load("GET /api/health (gateway, httpx)", gateway_health, seconds, concurrency)
        print(
            f"ratios: gRPC/asyncpg = {rpc / db:.2f}, gateway/gRPC = {rest / rpc:.2f}, gateway/asyncpg = {rest / db:.2f}"
        )
        base = f"http://127.0.0.1:{http_port}"
        header = f"X-Goog-Authenticated-User-Email: accounts.google.com:{OWNER}"
        wrk_rest = await wrk(f"{base}/api/runs/{run_id}", header, seconds, concurrency)
        if wrk_rest:
            print(f"{'GET /api/runs/{id} (gateway, wrk)':<34} {wrk_rest:>9.0f} req/s")
            wrk_health = await wrk(f"{base}/api/health", header, seconds, concurrency)
            print(f"{'GET /api/health (gateway, wrk)':<34} {wrk_health or 0:>9.0f} req/s")
            print(
                f"ratios with wrk as the HTTP client: gateway/gRPC = {wrk_rest / rpc:.2f},"
                f" gateway/asyncpg = {wrk_rest / db:.2f}"
            )
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with embedded_database() as dsn:
        asyncio.run(migrate(dsn))
        with platform_process(dsn, "runs", "pipelines", "gateway") as child:
            asyncio.run(run(dsn, child.grpc_port, child.http_port, args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
