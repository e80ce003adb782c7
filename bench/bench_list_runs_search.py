"""ListRuns on 1,000,000 runs searched by name (``q`` / ``name:"…"``) and filtered by labels.

Names look like ``Liver scrnaseq batch 417 · Project7``: "scrnaseq" is in 80% of them (a common term),
"zebrafish" in 0.01% (a rare one), "batch 417" in about 0.1%. Labels: ``team`` one of 20 values (5% each),
``tier=gold`` on 0.05%. One user owns 10% of the runs; the admin sees all. The Runs service runs in its
own process; this script is the gRPC client on loopback, so figures include the gRPC round trip.
``--explain`` prints the plan PostgreSQL picks for each listing (and its count) before timing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time

import asyncpg
import grpc
from _support import embedded_database, percentiles, platform_process

from arc.runs.v1 import runs_service_pb2, runs_service_pb2_grpc
from services.runs.paging import parse_filter
from services.runs.schema import migrate
from services.runs.store import COUNT_TRIGRAMS_BELOW, PAGE_TRIGRAMS_BELOW, RunStore

HEAVY_USER = "heavy@example.com"
ADMIN = "admin@example.com"


async def seed(dsn: str, total: int) -> None:
    await migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        chunk = 100_000
        for start in range(0, total, chunk):
            await conn.execute(
                """
                INSERT INTO runs (run_id, pipeline, pipeline_version, status, user_email, gcs_path, params,
                                  sample_count, created_at, updated_at, name, labels)
                SELECT 'run-' || lpad(to_hex(g), 8, '0'),
                       CASE WHEN h / 10 % 5 = 0 THEN 'nf-core/rnaseq' ELSE 'nf-core/scrnaseq' END, '2.7.1',
                       (ARRAY['pending','submitted','running','completed','failed','cancelled'])[1 + g % 6],
                       CASE WHEN h % 10 = 0 THEN $3 ELSE 'user' || (h % 1000) || '@example.com' END,
                       'gs://bucket/runs/run-' || lpad(to_hex(g), 8, '0'), '{"genome": "GRCh38"}', 4,
                       timestamptz '2026-01-01' + make_interval(secs => g * 30), now(),
                       (ARRAY['Liver','Kidney','Brain','Heart','Lung','Skin','Blood'])[1 + g % 7] || ' '
                         || CASE WHEN h / 10 % 5 = 0 THEN 'rnaseq' ELSE 'scrnaseq' END
                         || ' batch ' || (g % 997)
                         || CASE WHEN g % 10000 = 7 THEN ' zebrafish' ELSE '' END
                         || ' · Project' || (g % 211),
                       jsonb_build_object('team', 't' || (h / 50 % 20))
                         || CASE WHEN g % 2000 = 3 THEN '{"tier": "gold"}'::jsonb ELSE '{}'::jsonb END
                -- h: a pseudo-random number per run, so owner, pipeline and team are independent
                FROM (SELECT g, abs(hashint4(g)) AS h FROM generate_series($1::int, $2::int) g) s
                """,
                start + 1,
                min(total, start + chunk),
                HEAVY_USER,
            )
        await conn.execute("VACUUM ANALYZE runs")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_relation_size('idx_runs_name_trigrams'))")
        print(f"seeded {total:,} runs in {time.perf_counter() - started:.1f} s (name trigram index {size})")
    finally:
        await conn.close()


def meta(email: str) -> tuple[tuple[str, str], ...]:
    return (("x-goog-authenticated-user-email", f"accounts.google.com:{email}"),)


CASES = [
    # (label, filter, caller)
    ('q common "scrnaseq", own runs', 'name:"scrnaseq"', HEAVY_USER),
    ('q common "scrnaseq", admin', 'name:"scrnaseq"', ADMIN),
    ('q rare "zebrafish", own runs', 'name:"zebrafish"', HEAVY_USER),
    ('q rare "zebrafish", admin', 'name:"zebrafish"', ADMIN),
    ('q medium "batch 417 ", admin', 'name:"batch 417 "', ADMIN),
    ('q medium "batch 417 ", own runs', 'name:"batch 417 "', HEAVY_USER),
    ('q 1% "batch 41", admin', 'name:"batch 41"', ADMIN),
    ('q 14% "liver", own runs', 'name:"liver"', HEAVY_USER),
    ('q 14% "liver", admin', 'name:"liver"', ADMIN),
    ('q no match "giraffe", admin', 'name:"giraffe"', ADMIN),
    ('q short "lu", admin', 'name:"lu"', ADMIN),
    ("label team=t3, own runs", 'labels.team = "t3"', HEAVY_USER),
    ("label team=t3, admin", 'labels.team = "t3"', ADMIN),
    ("label tier=gold (rare), admin", 'labels.tier = "gold"', ADMIN),
    ("labels team=t3 + tier=gold, own runs", 'labels.team = "t3" AND labels.tier = "gold"', HEAVY_USER),
    ('q "liver" + label team=t3, admin', 'name:"liver" AND labels.team = "t3"', ADMIN),
    ("no filter, admin (baseline)", "", ADMIN),
]


async def explain(dsn: str) -> None:
    """The plans of the store's two queries (the page and the capped count) for every case."""
    conn = await asyncpg.connect(dsn)
    for type_name in ("json", "jsonb"):  # as the service's pool decodes them
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.execute("SET plan_cache_mode = force_custom_plan")  # as the store plans a search
    try:
        for label, text, caller in CASES:
            run_filter = parse_filter(text)
            if caller != ADMIN:
                run_filter = dataclasses.replace(run_filter, user_email=caller)
            for kind, below, template in (
                ("page", PAGE_TRIGRAMS_BELOW, "SELECT run_id FROM runs WHERE {} ORDER BY created_at DESC, run_id DESC"),
                ("count", COUNT_TRIGRAMS_BELOW, "SELECT count(*) FROM (SELECT 1 FROM runs WHERE {} LIMIT 10001) s"),
            ):
                # The store's own choice of whether the trigram index pays for this term.
                trigrams = await RunStore(pool=None)._trigrams_pay(conn, run_filter, below_share=below)  # type: ignore[arg-type]
                where, args = run_filter.where(trigrams=trigrams)
                sql = template.format(where) + (" LIMIT 51" if kind == "page" else "")
                plan = await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", *args)
                lines = [r[0].strip() for r in plan if not r[0].strip().startswith(("Planning", "Execution"))]
                timing = next(r[0].strip() for r in plan if r[0].strip().startswith("Execution"))
                scans = [line for line in lines if "Scan" in line]
                print(f"{label:<40} {kind:<5} {timing:<28} {' | '.join(scans)}")
    finally:
        await conn.close()


async def measure(stub, name: str, request, email: str, iterations: int) -> None:
    for _ in range(20):  # warm-up: connection, prepared statements, caches
        await stub.ListRuns(request, metadata=meta(email))
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        response = await stub.ListRuns(request, metadata=meta(email))
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{name:<40} rows={len(response.runs):<3} total={response.total_size:<7} {percentiles(samples)}")


async def run(grpc_port: int, iterations: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = runs_service_pb2_grpc.RunsServiceStub(channel)
        for label, text, caller in CASES:
            request = runs_service_pb2.ListRunsRequest(page_size=50, filter=text)
            await measure(stub, label, request, caller, iterations)
        # Alternating a common and a rare term on the same prepared statements: each keeps its own plan.
        mixed: list[float] = []
        for i in range(iterations):
            text = 'name:"scrnaseq"' if i % 2 else 'name:"zebrafish"'
            started = time.perf_counter()
            await stub.ListRuns(runs_service_pb2.ListRunsRequest(page_size=50, filter=text), metadata=meta(ADMIN))
            mixed.append((time.perf_counter() - started) * 1000)
        print(f"{'q common/rare alternating, admin':<40} {'':<19} {percentiles(mixed)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--explain", action="store_true", help="print each listing's plan before timing")
    args = parser.parse_args()
    with embedded_database() as dsn:
        asyncio.run(seed(dsn, args.runs))
        if args.explain:
            asyncio.run(explain(dsn))
        with platform_process(dsn, "runs", ARC_ADMIN_EMAILS=ADMIN) as child:
            asyncio.run(run(child.grpc_port, args.iterations))


if __name__ == "__main__":
    main()
