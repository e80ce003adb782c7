"""A demo Benchling warehouse seeded in a local database (the embedded default).

A separate schema (``benchling_demo`` by default) with ``$raw`` tables and views the way Benchling lays
its warehouse out (``demo_warehouse.sql``), seeded idempotently with 3 projects (+1 archived),
2 instruments, 6 NGS runs (one archived) and 4 samples per run (one archived sample), whose FASTQ paths
start with a configurable prefix so a demo can point them at files it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.benchling.mapping import quote_ident

DEFAULT_SCHEMA = "benchling_demo"
DEFAULT_FASTQ_PREFIX = "demo-data/fastq"
_DDL_PATH = Path(__file__).with_name("demo_warehouse.sql")
_URL = "https://demo.benchling.com/benchling/f/lib_demo/"


@dataclass(frozen=True)
class _Run:
    id: str
    name: str
    folder: str  # folder of its FASTQ files under the prefix
    project: str
    instrument: str
    run_date: date
    created_at: datetime
    archived: bool = False


@dataclass(frozen=True)
class _SampleSeed:
    run: _Run
    index: int  # 1-based within the run
    name: str
    sample_type: str
    seq_center: str
    expected_cells: int | None
    archived: bool = False


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PROJECTS = (
    ("src_demo0001", "Atlas PBMC", "Healthy donor PBMC reference atlas", False),
    ("src_demo0002", "Beacon Tumor", "Tumour microenvironment profiling", False),
    ("src_demo0003", "Comet Organoids", "Intestinal organoid differentiation", False),
    ("src_demo0004", "Retired Pilot", "Pilot project, archived", True),
)
INSTRUMENTS = (
    ("bfi_demoins01", "NovaSeq 6000 A00123", "NovaSeq 6000", "A00123"),
    ("bfi_demoins02", "NextSeq 2000 VH00456", "NextSeq 2000", "VH00456"),
)
_NOVASEQ, _NEXTSEQ = INSTRUMENTS[0][0], INSTRUMENTS[1][0]
RUNS = (
    _Run(
        "bfi_demorun01",
        "NGS-2024-001",
        "NGS-2024-001",
        "src_demo0001",
        _NOVASEQ,
        date(2024, 1, 9),
        _ts("2024-01-10T09:00:00"),
    ),
    _Run(
        "bfi_demorun02",
        "NGS-2024-002",
        "NGS-2024-002",
        "src_demo0001",
        _NEXTSEQ,
        date(2024, 2, 13),
        _ts("2024-02-14T10:30:00"),
    ),
    _Run(
        "bfi_demorun03",
        "NGS_2024_003",
        "NGS_2024_003",
        "src_demo0002",
        _NOVASEQ,
        date(2024, 3, 19),
        _ts("2024-03-20T11:15:00"),
    ),
    # Same created_at as run 5: paging must break the tie by id.
    _Run(
        "bfi_demorun04",
        "NGS-2024-004 50% depth",
        "NGS-2024-004",
        "src_demo0002",
        _NEXTSEQ,
        date(2024, 4, 24),
        _ts("2024-05-02T08:00:00"),
    ),
    _Run(
        "bfi_demorun05",
        "NGS-2024-005",
        "NGS-2024-005",
        "src_demo0003",
        _NOVASEQ,
        date(2024, 5, 1),
        _ts("2024-05-02T08:00:00"),
    ),
    _Run(
        "bfi_demorun06",
        "NGS-2024-006",
        "NGS-2024-006",
        "src_demo0003",
        _NOVASEQ,
        date(2024, 6, 14),
        _ts("2024-06-15T14:45:00"),
        archived=True,
    ),
)
_CORE = "Arc Genomics Core"
_PARTNER = "Partner Sequencing Lab"
_SAMPLE_PLAN = {  # run id -> (sample name prefix, sample type, seq center, expected cells or None)
    "bfi_demorun01": ("ATLAS1_PBMC", "PBMC", _CORE, 5000),
    "bfi_demorun02": ("ATLAS2_PBMC", "PBMC", _CORE, 8000),
    "bfi_demorun03": ("BEACON3_TUMOR", "tumor", _PARTNER, 3000),
    "bfi_demorun04": ("BEACON4_TUMOR", "tumor", _PARTNER, 3000),
    "bfi_demorun05": ("COMET5_ORG", "organoid", _CORE, None),
    "bfi_demorun06": ("COMET6_NUC", "nuclei", _CORE, 10000),
}


def _samples() -> list[_SampleSeed]:
    out: list[_SampleSeed] = []
    for run in RUNS:
        prefix, sample_type, center, cells = _SAMPLE_PLAN[run.id]
        for i in range(1, 5):
            # The fourth sample of the first run is archived (and has a type no other sample has).
            archived = run.id == "bfi_demorun01" and i == 4
            out.append(
                _SampleSeed(
                    run=run,
                    index=i,
                    name=f"{prefix}_{i}",
                    sample_type="discarded" if archived else sample_type,
                    seq_center=center,
                    expected_cells=None if cells is None else cells + 500 * (i - 1),
                    archived=archived,
                )
            )
    return out


SAMPLES = tuple(_samples())


def _fastq(prefix: str, sample: _SampleSeed, read: int) -> str:
    base = prefix.rstrip("/")
    return f"{base}/{sample.run.folder}/{sample.name}_S{sample.index}_L001_R{read}_001.fastq.gz"


def demo_fastq_paths(fastq_prefix: str = DEFAULT_FASTQ_PREFIX) -> list[str]:
    """Every FASTQ path the demo warehouse points at (R1 and R2 of every seeded sample)."""
    return [_fastq(fastq_prefix, s, read) for s in SAMPLES for read in (1, 2)]


def _upsert_sql(schema: str, table: str, columns: list[str]) -> str:
    cols = ", ".join(quote_ident(c) for c in columns)
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in columns if c != "id")
    target = f"{quote_ident(schema)}.{quote_ident(table + '$raw')}"
    return f"INSERT INTO {target} ({cols}) VALUES ({params}) ON CONFLICT (id) DO UPDATE SET {updates}"  # noqa: S608


def _entity(
    id_: str, name: str, schema_id: str, registry_id: str, project: str, created: datetime, archived: bool
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "archived$": archived,
        "archive_purpose$": "Made in error" if archived else None,
        "created_at": created,
        "modified_at": created + timedelta(hours=1),
        "creator_id": "ent_demouser",
        "schema_id": schema_id,
        "source_id": project,
        "folder_id": "lib_demo",
        "entity_registry_id": registry_id,
        "registry_id": "src_demoregistry",
        "file_registry_id$": registry_id,
        "url$": _URL + id_,
        "valid$": True,
    }


def _rows(fastq_prefix: str) -> dict[str, list[dict[str, Any]]]:
    created = _ts("2023-12-01T09:00:00")
    projects = [
        {
            "id": pid,
            "name": name,
            "description": desc,
            "owner_id": "ent_demouser",
            "archived$": archived,
            "archive_purpose$": "Retired" if archived else None,
            "created_at": created,
            "modified_at": created,
            "url$": "https://demo.benchling.com/projects/" + pid,
        }
        for pid, name, desc, archived in PROJECTS
    ]
    instruments = [
        {
            **_entity(iid, name, "ts_demoInstrument", f"INS{i:03d}", "src_demo0001", created, False),
            "model": model,
            "serial_number": serial,
        }
        for i, (iid, name, model, serial) in enumerate(INSTRUMENTS, start=1)
    ]
    runs = [
        {
            **_entity(r.id, r.name, "ts_demoNgsRun", f"NGSR{i:03d}", r.project, r.created_at, r.archived),
            "project": r.project,
            "instrument": r.instrument,
            "run_date": r.run_date,
            "flowcell_id": f"HDEMO{i:03d}XY",
            "read_length": 150,
        }
        for i, r in enumerate(RUNS, start=1)
    ]
    samples = [
        {
            **_entity(
                f"bfi_demosmp{s.run.id[-2:]}{s.index}",
                s.name,
                "ts_demoNgsSample",
                f"SMP{i:03d}",
                s.run.project,
                s.run.created_at + timedelta(minutes=s.index),
                s.archived,
            ),
            "ngs_run": s.run.id,
            "fastq_r1": _fastq(fastq_prefix, s, 1),
            "fastq_r2": _fastq(fastq_prefix, s, 2),
            "expected_cells": s.expected_cells,
            "sample_type": s.sample_type,
            "seq_center": s.seq_center,
            "feature_type": "gex",
            "species": "Homo sapiens",
        }
        for i, s in enumerate(SAMPLES, start=1)
    ]
    return {"project": projects, "instrument": instruments, "ngs_run": runs, "ngs_sample": samples}


async def ensure_demo_warehouse(
    conn: asyncpg.Connection,
    schema: str = DEFAULT_SCHEMA,
    fastq_prefix: str = DEFAULT_FASTQ_PREFIX,
) -> None:
    """Create (or bring up to date) the demo warehouse schema in ``conn``'s database, and seed it.

    Idempotent and safe to call concurrently (an advisory lock serialises callers); seeding again
    with another ``fastq_prefix`` rewrites the FASTQ paths.
    """
    ddl = _DDL_PATH.read_text(encoding="utf-8").replace("{{schema}}", quote_ident(schema))
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "arc-demo-warehouse:" + schema)
        await conn.execute(ddl)
        for table, rows in _rows(fastq_prefix).items():
            columns = list(rows[0])
            await conn.executemany(_upsert_sql(schema, table, columns), [[row[c] for c in columns] for row in rows])
