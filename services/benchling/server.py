"""Wiring of the Benchling service: the warehouse pool, the Pipelines client, health, and the demo default.

Settings:

* ``ARC_BENCHLING_WAREHOUSE_URL``: the Benchling warehouse's DSN. Unset = the embedded default: a demo
  warehouse schema (the mapping's ``schema``, ``benchling_demo`` by default) seeded at start in the
  platform database, whose FASTQ paths point at small placeholder ``.fastq.gz`` files written under
  ``ARC_BENCHLING_DEMO_FASTQ_DIR`` (default ``ARC_DATA_DIR/demo-fastq``). Refused in production.
* ``ARC_BENCHLING_MAPPING_FILE``: which tables and columns to read (default ``mapping.default.yaml``).
* ``ARC_BENCHLING_CONNECT_TIMEOUT`` / ``ARC_BENCHLING_STATEMENT_TIMEOUT``: their sum bounds how long a
  call waits for a down or slow warehouse before answering UNAVAILABLE.

The warehouse pool connects lazily, so the platform starts (and every other service serves) while the
warehouse is down; this service's health is NOT_SERVING until it answers.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from pathlib import Path

import asyncpg

from arc.benchling.v1 import benchling_service_pb2_grpc
from arc_core.grpc_client import open_channel
from arc_core.grpc_server import ServiceRegistration
from arc_core.settings import Settings
from services.benchling.clients import PipelinesClient
from services.benchling.demo_warehouse import demo_fastq_paths, ensure_demo_warehouse
from services.benchling.mapping import load_mapping
from services.benchling.service import BenchlingService
from services.benchling.servicer import SERVICE_NAME, BenchlingServicer
from services.benchling.warehouse import Warehouse

log = logging.getLogger(__name__)

SEED_TIMEOUT = 30.0


def demo_fastq_dir(settings: Settings) -> Path:
    """Absolute folder of the demo FASTQ files (absolute so a run started elsewhere finds them)."""
    return (settings.benchling_demo_fastq_dir or settings.data_dir / "demo-fastq").resolve()


def placeholder_fastq(path: str, reads: int = 4) -> bytes:
    """A tiny, valid gzipped FASTQ (fixed content and gzip mtime, so it is the same on every start)."""
    read = "R2" if "_R2_" in Path(path).name else "R1"
    length = 28 if read == "R1" else 90  # 10x: barcode + UMI in R1, cDNA in R2
    stem = Path(path).name.split(".")[0]
    lines = []
    for i in range(1, reads + 1):
        sequence = ("ACGT" * 30)[i : i + length]
        lines += [f"@{stem}:{i} {read[1]}:N:0:1", sequence, "+", "I" * length]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def write_placeholder_fastqs(paths: list[str]) -> int:
    """Write the FASTQ files that do not exist yet; returns how many were written (blocking: run in a thread)."""
    written = 0
    for path in map(Path, paths):
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(placeholder_fastq(str(path)))
        written += 1
    return written


async def seed_demo_warehouse(database_url: str, schema: str, fastq_dir: Path) -> None:
    """Create and seed the demo warehouse schema, and the FASTQ files its samples point at."""
    prefix = str(fastq_dir)
    if any(ch.isspace() for ch in prefix):
        log.warning("demo FASTQ folder %r contains whitespace: pipelines reject such FASTQ paths", prefix)
    async with asyncio.timeout(SEED_TIMEOUT):
        conn = await asyncpg.connect(database_url)
        try:
            await ensure_demo_warehouse(conn, schema, prefix)
        finally:
            await conn.close()
    written = await asyncio.to_thread(write_placeholder_fastqs, demo_fastq_paths(prefix))
    log.info("demo Benchling warehouse seeded in schema %s; %d FASTQ files written under %s", schema, written, prefix)


async def build(settings: Settings, *, database_url: str | None) -> tuple[ServiceRegistration, BenchlingService]:
    """Connect the Benchling service's backends; the warehouse itself is reached on first use."""
    mapping = await asyncio.to_thread(load_mapping, settings.benchling_mapping_file)
    dsn = settings.benchling_warehouse_url
    if dsn:
        log.info("Benchling warehouse: ARC_BENCHLING_WAREHOUSE_URL (schema %s)", mapping.schema)
    else:
        if settings.environment == "production":
            raise ValueError("ARC_BENCHLING_WAREHOUSE_URL is required when ARC_ENVIRONMENT=production (no demo data)")
        if not database_url:
            raise ValueError(
                "the demo Benchling warehouse needs the platform database; or set ARC_BENCHLING_WAREHOUSE_URL"
            )
        await seed_demo_warehouse(database_url, mapping.schema, demo_fastq_dir(settings))
        dsn = database_url
    warehouse = Warehouse(
        dsn,
        mapping,
        connect_timeout=settings.benchling_connect_timeout,
        statement_timeout=settings.benchling_statement_timeout,
    )
    pipelines_channel = open_channel(settings.service_address("pipelines"))
    service = BenchlingService(warehouse, PipelinesClient(pipelines_channel))

    async def stop() -> None:
        await warehouse.close()
        await pipelines_channel.close()

    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: benchling_service_pb2_grpc.add_BenchlingServiceServicer_to_server(
            BenchlingServicer(service), server
        ),
        on_stop=[stop],
        ready=service.ready,
    )
    return registration, service
