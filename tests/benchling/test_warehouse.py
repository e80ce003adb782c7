"""Benchling warehouse: mapping, demo warehouse, queries, paging, cache, outages and identifier quoting."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from arc_core.errors import InvalidArgument, NotFound, Unavailable
from services.benchling.demo_warehouse import demo_fastq_paths, ensure_demo_warehouse
from services.benchling.mapping import (
    MappingError,
    WarehouseMapping,
    load_mapping,
    mapping_from_dict,
    quote_ident,
)
from services.benchling.warehouse import Warehouse, escape_like, render_samplesheet

NEWEST_FIRST = ["NGS-2024-005", "NGS-2024-004 50% depth", "NGS_2024_003", "NGS-2024-002", "NGS-2024-001"]
SCRNASEQ_COLUMNS = ["sample", "fastq_1", "fastq_2", "expected_cells", "seq_center", "sample_type", "feature_type"]
HOSTILE_TABLE = 'x"; DROP TABLE y; --'
HOSTILE_COLUMN = 'na"me; --'


@pytest.fixture(scope="module")
async def dsn(make_database) -> str:
    dsn = await make_database()
    conn = await asyncpg.connect(dsn)
    try:
        await ensure_demo_warehouse(conn)
        await ensure_demo_warehouse(conn)  # idempotent
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="module")
def mapping() -> WarehouseMapping:
    return load_mapping()


@pytest.fixture(scope="module")
async def wh(dsn: str, mapping: WarehouseMapping) -> AsyncIterator[Warehouse]:
    warehouse = Warehouse(dsn, mapping)
    yield warehouse
    await warehouse.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _names(wh: Warehouse, **filters: object) -> list[str]:
    runs, token = await wh.list_ngs_runs(**filters)  # type: ignore[arg-type]
    assert token == ""
    return [r.name for r in runs]


# -- mapping -------------------------------------------------------------------------------------------


def test_quote_ident() -> None:
    assert quote_ident("ngs_run") == '"ngs_run"'
    assert quote_ident("archived$") == '"archived$"'
    assert quote_ident(HOSTILE_TABLE) == '"x""; DROP TABLE y; --"'
    for bad in ("", "a\x00b"):
        with pytest.raises(ValueError):
            quote_ident(bad)


def test_escape_like() -> None:
    assert escape_like(r"50%_a\b") == r"50\%\_a\\b"


def test_default_mapping_loads(mapping: WarehouseMapping) -> None:
    assert mapping.schema == "benchling_demo"
    assert mapping.ngs_runs.table == "ngs_run" and mapping.ngs_runs.archived == "archived$"
    assert mapping.samples.fastq_2 == "fastq_r2"
    assert dict(mapping.samples.metadata) == {
        "seq_center": "seq_center",
        "sample_type": "sample_type",
        "feature_type": "feature_type",
    }
    assert mapping.facets == ("sample_type", "seq_center")


def _base_doc() -> dict:
    return {
        "schema": "s",
        "ngs_runs": {"table": "r", "project": "p", "instrument": "i"},
        "samples": {"table": "s", "ngs_run": "run", "fastq_1": "r1", "metadata": {"sample_type": "st"}},
        "projects": {"table": "p"},
        "instruments": {"table": "i", "archived": None},
        "facets": ["sample_type"],
    }


def test_mapping_defaults_and_nulls() -> None:
    m = mapping_from_dict(_base_doc())
    assert m.ngs_runs.id == "id" and m.ngs_runs.created_at == "created_at" and m.ngs_runs.run_date is None
    assert m.instruments.archived is None and m.projects.archived == "archived$"


def test_mapping_reports_every_problem(tmp_path: Path) -> None:
    doc = _base_doc()
    doc["extra"] = 1
    doc["ngs_runs"]["projekt"] = "p"
    del doc["ngs_runs"]["instrument"]
    doc["samples"]["fastq_2"] = "bad\x00col"
    doc["samples"]["metadata"] = {"sample": "x", "bad key": "y", "sample_type": "st"}
    doc["projects"]["name"] = None
    doc["instruments"]["id"] = "a" * 64
    doc["facets"] = ["sample_type", "nope"]
    with pytest.raises(MappingError) as err:
        mapping_from_dict(doc, source="test")
    text = "\n".join(err.value.problems)
    for expected in (
        "extra: unknown key",
        "ngs_runs.projekt: unknown key",
        "ngs_runs.instrument: missing required key",
        "samples.fastq_2: must not contain a NUL",
        "samples.metadata.sample: reserved key",
        "samples.metadata.bad key: key must match",
        "projects.name: must not be null",
        "instruments.id: is longer than 63 bytes",
        "facets[1]: 'nope' is not a key of samples.metadata",
    ):
        assert expected in text, (expected, text)

    path = tmp_path / "m.yaml"
    path.write_text("schema: s\nngs_run: {}\n")
    with pytest.raises(MappingError, match="ngs_run: unknown key"):
        load_mapping(path)
    path.write_text("schema: [unclosed\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(path)


# -- demo warehouse ------------------------------------------------------------------------------------


async def test_demo_warehouse_layout(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for table, raw_count in (("project", 4), ("instrument", 2), ("ngs_run", 6), ("ngs_sample", 24)):
            raw = await conn.fetchval(f'SELECT count(*) FROM benchling_demo."{table}$raw"')  # noqa: S608
            view = await conn.fetchval(f"SELECT count(*) FROM benchling_demo.{table}")  # noqa: S608
            assert raw == view == raw_count, table  # views keep archived rows, as the brief's warehouse does
            kind = await conn.fetchval(
                "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'benchling_demo' AND c.relname = $1",
                table,
            )
            assert kind == "v"
        archived = await conn.fetchval('SELECT count(*) FROM benchling_demo.ngs_run WHERE "archived$"')
        assert archived == 1
    finally:
        await conn.close()


async def test_demo_fastq_prefix_is_a_parameter(dsn: str, mapping: WarehouseMapping) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await ensure_demo_warehouse(conn, schema="benchling_demo_local", fastq_prefix="/srv/demo/")
        await ensure_demo_warehouse(conn, schema="benchling_demo_local", fastq_prefix="/srv/demo2")
    finally:
        await conn.close()
    wh = Warehouse(dsn, dataclasses.replace(mapping, schema="benchling_demo_local"))
    try:
        samples = await wh.list_ngs_run_samples("NGS-2024-002")
    finally:
        await wh.close()
    assert samples[0].fastq_1 == "/srv/demo2/NGS-2024-002/ATLAS2_PBMC_1_S1_L001_R1_001.fastq.gz"
    assert samples[0].fastq_1 in demo_fastq_paths("/srv/demo2")
    assert len(demo_fastq_paths()) == 48


# -- NGS runs ------------------------------------------------------------------------------------------


async def test_runs_newest_first_archived_hidden(wh: Warehouse) -> None:
    runs, token = await wh.list_ngs_runs()
    assert token == ""
    assert [r.name for r in runs] == NEWEST_FIRST  # NGS-2024-006 is archived
    first = runs[0]
    assert first.id == "bfi_demorun05"
    assert (first.project_id, first.project_name) == ("src_demo0003", "Comet Organoids")
    assert (first.instrument_id, first.instrument_name) == ("bfi_demoins01", "NovaSeq 6000 A00123")
    assert first.run_date == "2024-05-01"
    assert first.created_at == datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


async def test_run_filters(wh: Warehouse) -> None:
    assert await _names(wh, project="Atlas PBMC") == ["NGS-2024-002", "NGS-2024-001"]
    assert await _names(wh, project="src_demo0002") == ["NGS-2024-004 50% depth", "NGS_2024_003"]
    assert await _names(wh, project="Retired Pilot") == []
    assert await _names(wh, instrument="NextSeq 2000 VH00456") == ["NGS-2024-004 50% depth", "NGS-2024-002"]
    assert await _names(wh, project="Comet Organoids", instrument="bfi_demoins01") == ["NGS-2024-005"]
    # created_after inclusive, created_before exclusive; naive datetimes are UTC.
    assert await _names(
        wh, created_after=datetime(2024, 2, 14, 10, 30), created_before=datetime(2024, 5, 2, 8, tzinfo=UTC)
    ) == ["NGS_2024_003", "NGS-2024-002"]
    assert await _names(wh, created_after=datetime(2024, 6, 1, tzinfo=UTC)) == []  # only the archived run


async def test_name_contains_is_literal(wh: Warehouse) -> None:
    assert await _names(wh, name_contains="_") == ["NGS_2024_003"]
    assert await _names(wh, name_contains="%") == ["NGS-2024-004 50% depth"]
    assert await _names(wh, name_contains="0% d") == ["NGS-2024-004 50% depth"]
    assert await _names(wh, name_contains="ngs-2024-00") == [n for n in NEWEST_FIRST if n.startswith("NGS-")]
    assert await _names(wh, name_contains="\\") == []
    assert await _names(wh, name_contains="2024-006") == []  # archived
    assert await _names(wh, name_contains="") == NEWEST_FIRST


async def test_paging_newest_first_without_duplicates(wh: Warehouse) -> None:
    for size in (1, 2, 3, 4, 5):
        seen: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            runs, token = await wh.list_ngs_runs(page_size=size, page_token=token)
            pages += 1
            assert len(runs) <= size
            seen += [r.name for r in runs]
            if not token:
                break
        assert seen == NEWEST_FIRST, size  # the tie on created_at (runs 4 and 5) is broken by id
        assert pages == -(-len(NEWEST_FIRST) // size)  # a full last page carries no token

    runs, token = await wh.list_ngs_runs(project="Atlas PBMC", page_size=1)
    assert [r.name for r in runs] == ["NGS-2024-002"] and token
    more, last = await wh.list_ngs_runs(project="Atlas PBMC", page_size=1, page_token=token)
    assert [r.name for r in more] == ["NGS-2024-001"] and last == ""


async def test_paging_errors(wh: Warehouse) -> None:
    _, token = await wh.list_ngs_runs(page_size=1)
    with pytest.raises(InvalidArgument) as err:
        await wh.list_ngs_runs(page_size=1, page_token=token, project="Atlas PBMC")
    assert err.value.violations[0].field == "page_token"
    for garbage in ("nope", "e30", token[:-3] + "!!!", "eyJ2IjoxfQ"):
        with pytest.raises(InvalidArgument) as err:
            await wh.list_ngs_runs(page_token=garbage)
        assert [v.field for v in err.value.violations] == ["page_token"]
    with pytest.raises(InvalidArgument) as err:
        await wh.list_ngs_runs(
            page_size=-1, created_after=datetime(2024, 5, 1, tzinfo=UTC), created_before=datetime(2024, 1, 1)
        )
    assert {v.field for v in err.value.violations} == {"page_size", "created_before"}


# -- samples and samplesheets --------------------------------------------------------------------------


async def test_samples_of_a_run(wh: Warehouse) -> None:
    samples = await wh.list_ngs_run_samples("NGS-2024-001")
    assert [s.name for s in samples] == ["ATLAS1_PBMC_1", "ATLAS1_PBMC_2", "ATLAS1_PBMC_3"]  # _4 archived
    s = samples[0]
    assert (s.ngs_run_id, s.ngs_run_name) == ("bfi_demorun01", "NGS-2024-001")
    assert s.fastq_1 == "demo-data/fastq/NGS-2024-001/ATLAS1_PBMC_1_S1_L001_R1_001.fastq.gz"
    assert s.fastq_2 == "demo-data/fastq/NGS-2024-001/ATLAS1_PBMC_1_S1_L001_R2_001.fastq.gz"
    assert s.expected_cells == 5000 and samples[2].expected_cells == 6000
    assert dict(s.metadata) == {"seq_center": "Arc Genomics Core", "sample_type": "PBMC", "feature_type": "gex"}
    by_id = await wh.list_ngs_run_samples("bfi_demorun05")
    assert len(by_id) == 4 and all(x.expected_cells is None for x in by_id)
    assert [x.name for x in await wh.list_ngs_run_samples("NGS-2024-004 50% depth")][0] == "BEACON4_TUMOR_1"


async def test_unknown_or_archived_run_is_not_found(wh: Warehouse) -> None:
    with pytest.raises(NotFound, match="NGS-9999"):
        await wh.list_ngs_run_samples("NGS-9999")
    with pytest.raises(NotFound, match="NGS-2024-006"):
        await wh.list_ngs_run_samples("NGS-2024-006")  # archived
    with pytest.raises(NotFound, match="NGS-2024-0%"):
        await wh.list_ngs_run_samples("NGS-2024-0%")  # exact names only
    with pytest.raises(InvalidArgument):
        await wh.list_ngs_run_samples("")


async def test_build_samplesheet_rows(wh: Warehouse) -> None:
    rows, project = await wh.build_samplesheet_rows(["NGS-2024-002", "NGS-2024-001", "NGS-2024-002"])
    assert project == "Atlas PBMC"
    assert [r["sample"] for r in rows] == [f"ATLAS2_PBMC_{i}" for i in range(1, 5)] + [
        f"ATLAS1_PBMC_{i}" for i in range(1, 4)
    ]
    assert rows[0] == {
        "sample": "ATLAS2_PBMC_1",
        "fastq_1": "demo-data/fastq/NGS-2024-002/ATLAS2_PBMC_1_S1_L001_R1_001.fastq.gz",
        "fastq_2": "demo-data/fastq/NGS-2024-002/ATLAS2_PBMC_1_S1_L001_R2_001.fastq.gz",
        "expected_cells": "8000",
        "seq_center": "Arc Genomics Core",
        "sample_type": "PBMC",
        "feature_type": "gex",
    }
    rows, project = await wh.build_samplesheet_rows(["NGS-2024-001", "NGS_2024_003", "NGS-2024-005"])
    assert project is None and len(rows) == 11
    assert rows[-1]["expected_cells"] == ""
    with pytest.raises(NotFound) as err:
        await wh.build_samplesheet_rows(["NGS-2024-001", "missing-a", "NGS-2024-006"])
    assert "missing-a" in err.value.message and "NGS-2024-006" in err.value.message
    with pytest.raises(InvalidArgument):
        await wh.build_samplesheet_rows([])

    csv_text = render_samplesheet(SCRNASEQ_COLUMNS, rows)
    parsed = list(csv.DictReader(io.StringIO(csv_text)))
    assert list(parsed[0]) == SCRNASEQ_COLUMNS and len(parsed) == 11
    assert parsed[0]["fastq_1"] == rows[0]["fastq_1"]


def test_render_samplesheet_quoting() -> None:
    rows = [{"sample": 'a,"b"\nc', "fastq_1": "x.fastq.gz", "extra": "dropped"}, {"sample": "s2", "fastq_2": None}]
    text = render_samplesheet(["sample", "fastq_1", "fastq_2"], rows)
    assert text == 'sample,fastq_1,fastq_2\n"a,""b""\nc",x.fastq.gz,\ns2,,\n'
    assert list(csv.reader(io.StringIO(text)))[1] == ['a,"b"\nc', "x.fastq.gz", ""]
    with pytest.raises(InvalidArgument):
        render_samplesheet(["sample", "sample"], rows)


# -- metadata cache ------------------------------------------------------------------------------------


async def test_metadata_contents(wh: Warehouse) -> None:
    md = await wh.get_metadata()
    assert [p.name for p in md.projects] == ["Atlas PBMC", "Beacon Tumor", "Comet Organoids"]
    assert [i.name for i in md.instruments] == ["NextSeq 2000 VH00456", "NovaSeq 6000 A00123"]
    # "discarded" (archived sample) and "nuclei" (samples of the archived run) are hidden.
    assert md.facets == {
        "sample_type": ("organoid", "PBMC", "tumor"),
        "seq_center": ("Arc Genomics Core", "Partner Sequencing Lab"),
    }


async def test_metadata_cached_within_ttl_and_refreshed_after(dsn: str, mapping: WarehouseMapping) -> None:
    clock = FakeClock()
    wh = Warehouse(dsn, mapping, metadata_ttl=300, clock=clock)
    try:
        first = await wh.get_metadata()
        assert wh.query_count == 1
        clock.now += 299
        assert await wh.get_metadata() is first
        assert wh.query_count == 1
        clock.now += 2
        second = await wh.get_metadata()
        assert wh.query_count == 2 and second is not first and second.projects == first.projects
        assert await wh.get_metadata() is second and wh.query_count == 2
    finally:
        await wh.close()


async def test_metadata_single_flight(dsn: str, mapping: WarehouseMapping) -> None:
    wh = Warehouse(dsn, mapping)
    try:
        results = await asyncio.gather(*(wh.get_metadata() for _ in range(200)))
        assert wh.query_count == 1
        assert all(r is results[0] for r in results)
    finally:
        await wh.close()


async def test_metadata_failures_not_cached(dsn: str, mapping: WarehouseMapping) -> None:
    broken = dataclasses.replace(mapping, projects=dataclasses.replace(mapping.projects, table="no_such_table"))
    wh = Warehouse(dsn, broken)
    try:
        outcomes = await asyncio.gather(*(wh.get_metadata() for _ in range(50)), return_exceptions=True)
        assert all(isinstance(o, Unavailable) for o in outcomes)
        assert "check the warehouse mapping" in outcomes[0].message
        assert wh.query_count == 1  # the failing fetch was shared too
        with pytest.raises(Unavailable):
            await wh.get_metadata()
        assert wh.query_count == 2  # ... but not cached
    finally:
        await wh.close()


# -- outages -------------------------------------------------------------------------------------------


async def test_warehouse_down_closed_port(closed_port: int, mapping: WarehouseMapping) -> None:
    wh = Warehouse(f"postgresql://arc:pw@127.0.0.1:{closed_port}/wh", mapping, connect_timeout=1.0)
    try:
        start = time.monotonic()
        with pytest.raises(Unavailable, match="^Benchling warehouse unavailable: "):
            await wh.list_ngs_runs()
        with pytest.raises(Unavailable):
            await wh.get_metadata()
        assert time.monotonic() - start < 2.0
    finally:
        await wh.close()


async def test_warehouse_silent_server(silent_server: int, mapping: WarehouseMapping) -> None:
    wh = Warehouse(
        f"postgresql://arc:pw@127.0.0.1:{silent_server}/wh", mapping, connect_timeout=0.5, statement_timeout=0.5
    )
    try:
        start = time.monotonic()
        with pytest.raises(Unavailable, match="^Benchling warehouse unavailable: "):
            await wh.list_ngs_run_samples("NGS-2024-001")
        assert time.monotonic() - start < wh.timeout_bound + 0.5

        start = time.monotonic()
        outcomes = await asyncio.gather(*(wh.get_metadata() for _ in range(50)), return_exceptions=True)
        assert all(isinstance(o, Unavailable) for o in outcomes)
        assert time.monotonic() - start < wh.timeout_bound + 0.5  # one shared attempt, not 50 in a row
        assert wh.query_count == 2
    finally:
        await wh.close()


async def test_slow_query_hits_statement_timeout(dsn: str, mapping: WarehouseMapping) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE OR REPLACE VIEW benchling_demo.slow_ngs_run AS"
            " SELECT r.* FROM benchling_demo.ngs_run r, LATERAL (SELECT pg_sleep(1)) s"
        )
    finally:
        await conn.close()
    slow = dataclasses.replace(mapping, ngs_runs=dataclasses.replace(mapping.ngs_runs, table="slow_ngs_run"))
    wh = Warehouse(dsn, slow, connect_timeout=2.0, statement_timeout=0.3)
    try:
        start = time.monotonic()
        with pytest.raises(Unavailable, match="statement timeout"):
            await wh.list_ngs_runs()
        assert time.monotonic() - start < 1.5
    finally:
        await wh.close()


async def test_pool_is_read_only(wh: Warehouse) -> None:
    with pytest.raises(Unavailable, match="read-only transaction"):
        await wh._fetch("CREATE TABLE benchling_demo.should_not_exist (a int)")


# -- hostile identifiers -------------------------------------------------------------------------------


async def test_hostile_identifiers_are_quoted(dsn: str, mapping: WarehouseMapping) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS public.y (a int)")
        hostile = f"benchling_demo.{quote_ident(HOSTILE_TABLE)}"
        await conn.execute(f"DROP TABLE IF EXISTS {hostile}")
        await conn.execute(f"CREATE TABLE {hostile} AS SELECT * FROM benchling_demo.ngs_run")
        await conn.execute(f"ALTER TABLE {hostile} RENAME COLUMN name TO {quote_ident(HOSTILE_COLUMN)}")
    finally:
        await conn.close()

    runs_mapping = dataclasses.replace(mapping.ngs_runs, table=HOSTILE_TABLE, name=HOSTILE_COLUMN)
    wh = Warehouse(dsn, dataclasses.replace(mapping, ngs_runs=runs_mapping))
    missing = dataclasses.replace(mapping.samples, table='t"; DROP TABLE y; --', ngs_run="a\"'); --")
    wh_missing = Warehouse(dsn, dataclasses.replace(mapping, samples=missing))
    try:
        # The hostile names are identifiers: the table so named is read, and nothing else runs.
        assert await _names(wh, name_contains="%") == ["NGS-2024-004 50% depth"]
        assert len(await wh.list_ngs_run_samples("NGS-2024-001")) == 3
        with pytest.raises(Unavailable, match="check the warehouse mapping"):
            await wh_missing.list_ngs_run_samples("NGS-2024-001")
    finally:
        await wh.close()
        await wh_missing.close()

    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('public.y') IS NOT NULL")
    finally:
        await conn.close()
