"""The Benchling service over real gRPC and HTTP: the demo warehouse, the cache, samplesheets, outages.

One platform (all services + gateway) on its own database with the embedded demo warehouse; the outage
tests start platforms whose warehouse is a closed port or a TCP server that never answers.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import asyncpg
import grpc
import httpx
import pytest
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from arc.benchling.v1 import benchling_service_pb2, benchling_service_pb2_grpc
from arc.pipelines.v1 import pipelines_service_pb2, pipelines_service_pb2_grpc
from arc_core.grpc_errors import from_rpc_error
from arc_core.paging import encode_offset, query_key
from arc_core.protos import timestamp
from arc_core.settings import Settings
from services.benchling.server import build, demo_fastq_dir
from services.benchling.servicer import SERVICE_NAME
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running, email_metadata, running_platform

ALICE = email_metadata("alice@example.com")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
NEWEST_FIRST = ["NGS-2024-005", "NGS-2024-004 50% depth", "NGS_2024_003", "NGS-2024-002", "NGS-2024-001"]
SCRNASEQ_PARAMS = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}
SCRNASEQ_COLUMNS = ["sample", "fastq_1", "fastq_2", "expected_cells", "seq_center", "feature_type"]
DOWN_TIMEOUTS = {"benchling_connect_timeout": 0.5, "benchling_statement_timeout": 0.5}
QUICK_CANCEL = {"local_cancel_grace_seconds": 1.0}  # runs made here are stopped at once (see _stop_run)
BOUND = 1.0 + 1.0  # connect + statement timeouts, plus a second for the round trips


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    dsn = await make_database()
    data_dir = tmp_path_factory.mktemp("arc")
    async with running_platform(database_url=dsn, data_dir=data_dir, **QUICK_CANCEL) as running:
        yield running


@pytest.fixture
def benchling(platform: Running) -> benchling_service_pb2_grpc.BenchlingServiceStub:
    return benchling_service_pb2_grpc.BenchlingServiceStub(platform.channel)


async def _health(channel: grpc.aio.Channel, service: str) -> str:
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def _fastq_lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def _all_exist(paths: list[str]) -> bool:
    return all(Path(p).is_file() for p in paths)


async def _stop_run(http: httpx.AsyncClient, run_id: str) -> None:
    """Cancel a run the test created and wait until it settles, so its local orchestrator is gone."""
    await http.delete(f"/api/runs/{run_id}", headers=ALICE_HTTP)
    deadline = time.monotonic() + 15
    status = None
    while time.monotonic() < deadline:
        status = (await http.get(f"/api/runs/{run_id}", headers=ALICE_HTTP)).json().get("status")
        if status in ("cancelled", "failed", "completed"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{run_id} did not settle (status {status})")


# -- the embedded demo warehouse -------------------------------------------------------------------------


async def test_demo_fastq_files_exist_for_every_sample(platform: Running) -> None:
    response = await platform.http.get("/api/benchling/runs/NGS-2024-001/samples", headers=ALICE_HTTP)
    assert response.status_code == 200, response.text
    folder = demo_fastq_dir(platform.platform.settings)
    assert folder.is_absolute() and folder.is_relative_to(platform.platform.settings.data_dir.resolve())
    for sample in response.json()["samples"]:
        for key in ("fastq_1", "fastq_2"):
            path = Path(sample[key])
            assert path.is_relative_to(folder) and path.name.endswith(".fastq.gz")
            lines = await asyncio.to_thread(_fastq_lines, path)
            assert len(lines) % 4 == 0 and lines[0].startswith("@") and lines[2] == "+"
            assert all(len(lines[i + 1]) == len(lines[i + 3]) for i in range(0, len(lines), 4))


async def test_health_is_serving(platform: Running) -> None:
    assert await _health(platform.channel, SERVICE_NAME) == "SERVING"
    ready = await platform.http.get("/api/health/ready")
    assert ready.status_code == 200 and ready.json()["services"]["benchling"] == "SERVING"


# -- NGS runs ----------------------------------------------------------------------------------------------


async def test_runs_over_http_newest_first_archived_hidden(platform: Running) -> None:
    response = await platform.http.get("/api/benchling/runs", headers=ALICE_HTTP)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["name"] for r in body["ngs_runs"]] == NEWEST_FIRST  # NGS-2024-006 is archived
    assert body["next_page_token"] is None
    first = body["ngs_runs"][-1]
    assert first == {
        "id": "bfi_demorun01",
        "name": "NGS-2024-001",
        "project": "Atlas PBMC",
        "instrument": "NovaSeq 6000 A00123",
        "run_date": "2024-01-09T00:00:00Z",
        "created_at": "2024-01-10T09:00:00Z",
        "sample_count": 3,  # the fourth sample is archived
    }


async def test_run_filters_over_grpc_and_http(platform: Running, benchling) -> None:
    async def names(**filters: object) -> list[str]:
        request = benchling_service_pb2.ListNgsRunsRequest(**filters)  # type: ignore[arg-type]
        return [r.name for r in (await benchling.ListNgsRuns(request, metadata=ALICE)).ngs_runs]

    assert await names(project="Beacon Tumor") == ["NGS-2024-004 50% depth", "NGS_2024_003"]
    assert await names(project="src_demo0001") == ["NGS-2024-002", "NGS-2024-001"]
    assert await names(instrument="NextSeq 2000 VH00456") == ["NGS-2024-004 50% depth", "NGS-2024-002"]
    assert await names(name_contains="50%") == ["NGS-2024-004 50% depth"]
    assert await names(name_contains="_") == ["NGS_2024_003"]  # literal, not a LIKE wildcard
    assert await names(project="Retired Pilot") == []
    window = {"created_after": timestamp_of("2024-02-14T10:30:00"), "created_before": timestamp_of("2024-05-01")}
    assert await names(**window) == ["NGS_2024_003", "NGS-2024-002"]

    response = await platform.http.get(
        "/api/benchling/runs",
        params={"project": "Atlas PBMC", "created_after": "2024-02-01", "instrument": "NextSeq 2000 VH00456"},
        headers=ALICE_HTTP,
    )
    assert [r["name"] for r in response.json()["ngs_runs"]] == ["NGS-2024-002"]
    bad = await platform.http.get(
        "/api/benchling/runs", params={"created_after": "2024-05-01", "created_before": "2024-01-01"}
    )
    assert bad.status_code == 400
    assert _violations(bad.json()) == ["created_before"]


def timestamp_of(text: str) -> timestamp_pb2.Timestamp:
    return timestamp(datetime.fromisoformat(text).replace(tzinfo=UTC))


def _violations(body: dict) -> list[str]:
    details = body["error"]["details"]
    bad = next(d for d in details if d["@type"].endswith("google.rpc.BadRequest"))
    return [v["field"] for v in bad["field_violations"]]


async def test_paging_over_http(platform: Running) -> None:
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"page_size": 2, **({"page_token": token} if token else {})}
        body = (await platform.http.get("/api/benchling/runs", params=params, headers=ALICE_HTTP)).json()
        pages += 1
        seen += [r["name"] for r in body["ngs_runs"]]
        token = body["next_page_token"]
        if token is None:
            break
    assert seen == NEWEST_FIRST and pages == 3

    first = (await platform.http.get("/api/benchling/runs", params={"page_size": 2})).json()
    for params, field in (
        ({"page_token": "not-a-token"}, "page_token"),
        ({"page_token": first["next_page_token"], "project": "Atlas PBMC"}, "page_token"),  # other filters
        ({"page_token": encode_offset(2, query_key("ListPipelines"))}, "page_token"),  # another list's
        ({"page_size": -1}, "page_size"),
    ):
        response = await platform.http.get("/api/benchling/runs", params=params)
        assert response.status_code == 400, params
        assert _violations(response.json()) == [field]


# -- samples and metadata ---------------------------------------------------------------------------------


async def test_samples_over_http_and_grpc(platform: Running, benchling) -> None:
    response = await platform.http.get("/api/benchling/runs/NGS-2024-001/samples", headers=ALICE_HTTP)
    samples = response.json()["samples"]
    assert [s["name"] for s in samples] == ["ATLAS1_PBMC_1", "ATLAS1_PBMC_2", "ATLAS1_PBMC_3"]  # _4 archived
    assert samples[0]["ngs_run"] == "NGS-2024-001"
    assert samples[0]["metadata"] == {
        "expected_cells": "5000",
        "seq_center": "Arc Genomics Core",
        "sample_type": "PBMC",
        "feature_type": "gex",
    }
    # A name with a space and a percent sign, and a run looked up by id.
    odd = await platform.http.get(f"/api/benchling/runs/{quote('NGS-2024-004 50% depth')}/samples")
    assert odd.status_code == 200 and odd.json()["samples"][0]["name"] == "BEACON4_TUMOR_1"
    by_id = await benchling.ListNgsRunSamples(
        benchling_service_pb2.ListNgsRunSamplesRequest(ngs_run="bfi_demorun05"), metadata=ALICE
    )
    assert len(by_id.samples) == 4 and all("expected_cells" not in s.metadata for s in by_id.samples)

    for name in ("NGS-9999", "NGS-2024-006"):  # unknown, archived
        missing = await platform.http.get(f"/api/benchling/runs/{name}/samples")
        assert missing.status_code == 404 and name in missing.json()["error"]["message"]


async def test_metadata_is_cached_one_warehouse_query_for_many_callers(platform: Running, benchling) -> None:
    service = platform.service("benchling")
    service.warehouse.invalidate_metadata()
    before = service.query_count
    calls = [benchling.GetMetadata(benchling_service_pb2.GetMetadataRequest(), metadata=ALICE) for _ in range(200)]
    answers = await asyncio.gather(*calls)
    http = await asyncio.gather(*(platform.http.get("/api/benchling/metadata") for _ in range(20)))
    assert service.query_count - before == 1
    assert all(a == answers[0] for a in answers)
    body = http[0].json()
    assert all(r.json() == body for r in http)
    assert body["projects"] == ["Atlas PBMC", "Beacon Tumor", "Comet Organoids"]  # "Retired Pilot" archived
    assert body["instruments"] == ["NextSeq 2000 VH00456", "NovaSeq 6000 A00123"]
    assert body["facets"] == [
        {"name": "sample_type", "values": ["organoid", "PBMC", "tumor"]},
        {"name": "seq_center", "values": ["Arc Genomics Core", "Partner Sequencing Lab"]},
    ]
    service.warehouse.invalidate_metadata()  # after the TTL: the next call fetches again, once
    await asyncio.gather(*(benchling.GetMetadata(benchling_service_pb2.GetMetadataRequest()) for _ in range(50)))
    assert service.query_count - before == 2


# -- samplesheets -----------------------------------------------------------------------------------------


async def test_built_samplesheet_launches_a_run(platform: Running) -> None:
    request = {
        "pipeline": "nf-core/scrnaseq",
        "pipeline_version": "2.7.1",
        "ngs_runs": ["NGS-2024-002", "NGS-2024-001"],
    }
    response = await platform.http.post("/api/benchling/samplesheet", json=request, headers=ALICE_HTTP)
    assert response.status_code == 200, response.text
    built = response.json()
    assert built["sample_count"] == 7
    assert built["source_ngs_runs"] == ["NGS-2024-002", "NGS-2024-001"]
    assert built["source_project"] == "Atlas PBMC"
    # The demo's sample_type (PBMC) is not scrnaseq's sample_type (gex/atac): left out, and said so.
    assert built["omitted_columns"] == ["sample_type"]
    rows = list(csv.DictReader(io.StringIO(built["samplesheet_csv"])))
    assert list(rows[0]) == SCRNASEQ_COLUMNS  # only columns the pipeline knows, in its schema's order
    assert [r["sample"] for r in rows][:2] == ["ATLAS2_PBMC_1", "ATLAS2_PBMC_2"]
    assert rows[0]["expected_cells"] == "8000" and rows[0]["feature_type"] == "gex"
    assert await asyncio.to_thread(_all_exist, [r[k] for r in rows for k in ("fastq_1", "fastq_2")])

    run = await platform.http.post(
        "/api/runs",
        json={
            "pipeline": "nf-core/scrnaseq",
            "pipeline_version": "2.7.1",
            "samplesheet_csv": built["samplesheet_csv"],
            "params": SCRNASEQ_PARAMS,
            "source_ngs_runs": built["source_ngs_runs"],
            "source_project": built["source_project"],
        },
        headers=ALICE_HTTP,
    )
    assert run.status_code == 201, run.text
    created = run.json()
    await _stop_run(platform.http, created["run_id"])
    assert created["sample_count"] == 7
    fetched = (await platform.http.get(f"/api/runs/{created['run_id']}", headers=ALICE_HTTP)).json()
    assert fetched["source_ngs_runs"] == ["NGS-2024-002", "NGS-2024-001"]
    assert fetched["source_project"] == "Atlas PBMC"
    stored = await platform.service("runs").storage.read_bytes(f"runs/{created['run_id']}/inputs/samplesheet.csv")
    assert stored.decode() == built["samplesheet_csv"]


async def test_build_over_grpc_for_another_pipeline_and_mixed_projects(benchling) -> None:
    built = await benchling.BuildSamplesheet(
        benchling_service_pb2.BuildSamplesheetRequest(pipeline="demo/hello", ngs_runs=["NGS-2024-005"]), metadata=ALICE
    )
    header = built.samplesheet_csv.splitlines()[0]
    assert header == "sample,fastq_1,fastq_2"  # demo/hello's `reads` column: no warehouse values
    assert built.sample_count == 4 and list(built.omitted_columns) == []
    assert built.source_project == "Comet Organoids"

    mixed = await benchling.BuildSamplesheet(
        benchling_service_pb2.BuildSamplesheetRequest(
            pipeline="nf-core/scrnaseq", pipeline_version="2.5.1", ngs_runs=["NGS-2024-001", "bfi_demorun03"]
        ),
        metadata=ALICE,
    )
    assert mixed.sample_count == 7 and mixed.source_project == ""  # two projects: none recorded
    assert list(mixed.source_ngs_runs) == ["NGS-2024-001", "bfi_demorun03"]
    # nf-core/scrnaseq 2.5.1's own assets/schema_input.json has only these three columns (2.6.0 added more).
    assert mixed.samplesheet_csv.splitlines()[0] == "sample,fastq_1,fastq_2"


async def test_build_errors(platform: Running) -> None:
    async def build(**body: object):  # type: ignore[no-untyped-def]
        return await platform.http.post("/api/benchling/samplesheet", json=body, headers=ALICE_HTTP)

    unknown = await build(pipeline="nf-core/nothing", ngs_runs=["NGS-2024-001"])
    assert unknown.status_code == 404 and "nf-core/scrnaseq" in unknown.json()["error"]["message"]
    version = await build(pipeline="nf-core/scrnaseq", pipeline_version="9.9.9", ngs_runs=["NGS-2024-001"])
    assert version.status_code == 404 and "2.7.1, 2.6.0, 2.5.1" in version.json()["error"]["message"]
    runs = await build(pipeline="nf-core/scrnaseq", ngs_runs=["NGS-2024-001", "NGS-0000", "NGS-2024-006"])
    assert runs.status_code == 404
    assert "NGS-0000" in runs.json()["error"]["message"] and "NGS-2024-006" in runs.json()["error"]["message"]
    for body, field in (
        ({"pipeline": "nf-core/scrnaseq", "ngs_runs": []}, "ngs_runs"),
        ({"pipeline": "", "ngs_runs": ["NGS-2024-001"]}, "pipeline"),
        ({"pipeline": "nf-core/scrnaseq", "ngs_runs": ["NGS-2024-001", " "]}, "ngs_runs[1]"),
    ):
        response = await build(**body)
        assert response.status_code == 400, body
        assert _violations(response.json()) == [field]


async def test_samples_a_pipeline_cannot_take_are_invalid_argument(platform: Running) -> None:
    """Problems in required columns are reported with their location, not papered over."""
    conn = await asyncpg.connect(platform.platform.database_url)
    run = {"id": "bfi_testbad", "name": "NGS-TEST-BAD"}
    try:
        await conn.execute(
            'INSERT INTO benchling_demo."ngs_run$raw" (id, name, created_at, modified_at, project, instrument)'
            " VALUES ($1, $2, now(), now(), 'src_demo0001', 'bfi_demoins01')",
            run["id"],
            run["name"],
        )
        await conn.execute(
            'INSERT INTO benchling_demo."ngs_sample$raw" (id, name, created_at, modified_at, ngs_run, fastq_r1)'
            " VALUES ('bfi_testbad1', 'BAD 1', now(), now(), $1, 'reads/bad_R1.bam')",
            run["id"],
        )
        response = await platform.http.post(
            "/api/benchling/samplesheet",
            json={"pipeline": "nf-core/scrnaseq", "ngs_runs": [run["name"]]},
            headers=ALICE_HTTP,
        )
    finally:
        await conn.execute('DELETE FROM benchling_demo."ngs_sample$raw" WHERE ngs_run = $1', run["id"])
        await conn.execute('DELETE FROM benchling_demo."ngs_run$raw" WHERE id = $1', run["id"])
        await conn.close()
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "NGS-TEST-BAD" in error["message"]
    assert _violations(response.json()) == [
        "samplesheet[row 1].sample",
        "samplesheet[row 1].fastq_1",
        "samplesheet[row 1].fastq_2",
    ]


# -- the warehouse down -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["closed port", "silent server"])
async def test_warehouse_down_is_unavailable_and_the_rest_keeps_working(
    kind: str, make_database, tmp_path: Path, silent_server: int, closed_port: int
) -> None:
    port = closed_port if kind == "closed port" else silent_server
    url = f"postgresql://reader:secret@127.0.0.1:{port}/warehouse"
    started = time.monotonic()
    async with running_platform(
        database_url=await make_database(),
        data_dir=tmp_path,
        benchling_warehouse_url=url,
        **DOWN_TIMEOUTS,
        **QUICK_CANCEL,
    ) as running:
        assert time.monotonic() - started < 15  # the platform starts without its warehouse
        benchling = benchling_service_pb2_grpc.BenchlingServiceStub(running.channel)

        t0 = time.monotonic()
        response = await running.http.get("/api/benchling/runs", headers=ALICE_HTTP)
        assert time.monotonic() - t0 < BOUND
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "UNAVAILABLE"
        assert error["message"].startswith("Benchling warehouse unavailable: ")
        assert "secret" not in error["message"]

        for call in (
            benchling.GetMetadata(benchling_service_pb2.GetMetadataRequest(), metadata=ALICE),
            benchling.ListNgsRunSamples(benchling_service_pb2.ListNgsRunSamplesRequest(ngs_run="x"), metadata=ALICE),
            benchling.BuildSamplesheet(
                benchling_service_pb2.BuildSamplesheetRequest(pipeline="nf-core/scrnaseq", ngs_runs=["x"]),
                metadata=ALICE,
            ),
        ):
            t0 = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert time.monotonic() - t0 < BOUND
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert from_rpc_error(err.value).reason == "BENCHLING_WAREHOUSE_UNAVAILABLE"

        # Everything else keeps working.
        assert (await running.http.get("/api/pipelines")).status_code == 200
        schema = await pipelines_service_pb2_grpc.PipelinesServiceStub(running.channel).GetPipelineSchema(
            pipelines_service_pb2.GetPipelineSchemaRequest(name="nf-core/scrnaseq"), metadata=ALICE
        )
        assert schema.version == "2.7.1"
        assert (await running.http.get("/api/runs", headers=ALICE_HTTP)).status_code == 200
        created = await running.http.post(
            "/api/runs",
            json={
                "pipeline": "nf-core/scrnaseq",
                "pipeline_version": "2.7.1",
                "samplesheet_csv": "sample,fastq_1,fastq_2\n"
                f"s1,{TEST_INPUTS}/s1_R1.fastq.gz,{TEST_INPUTS}/s1_R2.fastq.gz\n",
                "params": SCRNASEQ_PARAMS,
            },
            headers=ALICE_HTTP,
        )
        assert created.status_code == 201, created.text
        await _stop_run(running.http, created.json()["run_id"])

        assert await _health(running.channel, SERVICE_NAME) == "NOT_SERVING"
        for other in ("arc.runs.v1.RunsService", "arc.pipelines.v1.PipelinesService", "arc.logs.v1.LogsService"):
            assert await _health(running.channel, other) == "SERVING", other
        ready = await running.http.get("/api/health/ready")
        assert ready.status_code == 503
        services = ready.json()["services"]
        assert services["benchling"] == "NOT_SERVING" and services["runs"] == services["pipelines"] == "SERVING"


async def test_production_refuses_the_demo_warehouse(tmp_path: Path) -> None:
    settings = Settings(environment="production", auth_mode="iap", iap_audience="/projects/1/x", data_dir=tmp_path)
    with pytest.raises(ValueError, match="ARC_BENCHLING_WAREHOUSE_URL is required"):
        await build(settings, database_url="postgresql://unused@127.0.0.1:1/x")
