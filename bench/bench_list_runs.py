"""ListRuns on 1,000,000 runs: first page and a page 10,000 rows deep, filtered by user and by status.

Target (issue 2): p99 < 20 ms at the service. The Runs service runs in its own process; this script
is the gRPC client on loopback, so figures include the gRPC round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import grpc
from _support import embedded_database, percentiles, platform_process

from arc.runs.v1 import runs_service_pb2, runs_service_pb2_grpc
from services.runs.schema import migrate

HEAVY_USER = "heavy@example.com"
ADMIN = "admin@example.com"


async def seed(dsn: str, total: int) -> None:
    await migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        chunk = 200_000
        for start in range(0, total, chunk):
            await conn.execute(
                """
                INSERT INTO runs (run_id, pipeline, pipeline_version, status, user_email, gcs_path, params,
                                  sample_count, created_at, updated_at)
                SELECT 'run-' || lpad(to_hex(g), 8, '0'),
                       CASE WHEN g % 5 = 0 THEN 'nf-core/rnaseq' ELSE 'nf-core/scrnaseq' END, '2.7.1',
                       (ARRAY['pending','submitted','running','completed','failed','cancelled'])[1 + g % 6],
                       CASE WHEN g % 10 = 0 THEN $3 ELSE 'user' || (g % 1000) || '@example.com' END,
                       'gs://bucket/runs/run-' || lpad(to_hex(g), 8, '0'), '{"genome": "GRCh38"}', 4,
                       timestamptz '2026-01-01' + make_interval(secs => g * 30), now()
                FROM generate_series($1::int, $2::int) g
                """,
                start + 1,
                min(total, start + chunk),
                HEAVY_USER,
            )
        await conn.execute("ANALYZE runs")
        print(f"seeded {total:,} runs in {time.perf_counter() - started:.1f} s")
    finally:
        await conn.close()


def meta(email: str) -> tuple[tuple[str, str], ...]:
    return (("x-goog-authenticated-user-email", f"accounts.google.com:{email}"),)


async def token_at_depth(stub, request: runs_service_pb2.ListRunsRequest, email: str, depth: int) -> str:
    token = ""
    for _ in range(depth // 500):
        step = runs_service_pb2.ListRunsRequest(filter=request.filter, page_size=500, page_token=token)
        token = (await stub.ListRuns(step, metadata=meta(email))).next_page_token
    return token


async def measure(stub, name: str, request, email: str, iterations: int) -> None:
    for _ in range(20):  # warm-up: connection, prepared statements, caches
        await stub.ListRuns(request, metadata=meta(email))
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        response = await stub.ListRuns(request, metadata=meta(email))
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{name:<44} rows={len(response.runs):<3} total={response.total_size:<8} {percentiles(samples)}")


async def run(grpc_port: int, iterations: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = runs_service_pb2_grpc.RunsServiceStub(channel)
        by_user = runs_service_pb2.ListRunsRequest(page_size=50)
        by_status = runs_service_pb2.ListRunsRequest(page_size=50, filter='status = "running"')
        everything = runs_service_pb2.ListRunsRequest(page_size=50)
        await measure(stub, "first page, own runs (user filter)", by_user, HEAVY_USER, iterations)
        await measure(stub, "first page, status=running (admin)", by_status, ADMIN, iterations)
        await measure(stub, "first page, all runs (admin)", everything, ADMIN, iterations)
        deep_user = runs_service_pb2.ListRunsRequest(
            page_size=50, page_token=await token_at_depth(stub, by_user, HEAVY_USER, 10_000)
        )
        await measure(stub, "10,000 rows deep, own runs (user filter)", deep_user, HEAVY_USER, iterations)
        deep_status = runs_service_pb2.ListRunsRequest(
            page_size=50, filter=by_status.filter, page_token=await token_at_depth(stub, by_status, ADMIN, 10_000)
        )
        await measure(stub, "10,000 rows deep, status=running (admin)", deep_status, ADMIN, iterations)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=500)
    args = parser.parse_args()
    with embedded_database() as dsn:
        asyncio.run(seed(dsn, args.runs))
        with platform_process(dsn, "runs", ARC_ADMIN_EMAILS=ADMIN) as child:
            asyncio.run(run(child.grpc_port, args.iterations))


if __name__ == "__main__":
    main()
