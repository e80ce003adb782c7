"""CreateRun end to end: validation (ours and the Pipelines service's), storage, idempotency, files."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import yaml

from arc.runs.v1 import runs_service_pb2
from arc_core.grpc_errors import from_rpc_error
from arc_core.protos import to_struct
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import email_metadata

ALICE = email_metadata("alice@example.com")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
DATA = TEST_INPUTS  # placeholder FASTQ files in an allowed input location
SAMPLESHEET = (
    "sample,fastq_1,fastq_2,expected_cells\n"
    f"s1,{DATA}/s1_L001_R1.fastq.gz,{DATA}/s1_L001_R2.fastq.gz,5000\n"
    f"s1,{DATA}/s1_L002_R1.fastq.gz,{DATA}/s1_L002_R2.fastq.gz,5000\n"
    f"s2,{DATA}/s2_R1.fastq.gz,{DATA}/s2_R2.fastq.gz,3000\n"
)
PARAMS = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}


def body(**overrides: object) -> dict:
    data = {
        "pipeline": "nf-core/scrnaseq",
        "pipeline_version": "2.7.1",
        "samplesheet_csv": SAMPLESHEET,
        "config_content": "process.cpus = 2\n",
        "params": PARAMS,
    }
    data.update(overrides)
    return data


def grpc_request(**overrides: object) -> runs_service_pb2.CreateRunRequest:
    data = body(**overrides)
    data["params"] = to_struct(data["params"])  # type: ignore[arg-type]
    return runs_service_pb2.CreateRunRequest(**data)  # type: ignore[arg-type]


async def test_create_over_http_stores_inputs(platform) -> None:
    response = await platform.http.post("/api/runs", json=body(source_ngs_runs=["NGS_1"]), headers=ALICE_HTTP)
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["run_id"].startswith("run-") and len(run["run_id"]) == 12
    assert run["status"] == "submitted" and run["user_email"] == "alice@example.com"
    assert run["batch_job_name"] == f"local/{run['run_id']}"
    assert run["sample_count"] == 2  # two lanes of s1 are one sample
    assert run["params"] == PARAMS and run["source_ngs_runs"] == ["NGS_1"]
    assert run["nextflow_session_id"]
    storage = platform.service("runs").storage
    root = f"runs/{run['run_id']}"
    assert run["gcs_path"] == storage.uri(root)
    assert (await storage.read_bytes(f"{root}/inputs/samplesheet.csv")).decode() == SAMPLESHEET
    config = (await storage.read_bytes(f"{root}/inputs/nextflow.config")).decode()
    # The user's config follows the platform's block, and the platform's must-win lines follow it again.
    assert "process.cpus = 2" in config
    assert config.index("process.cpus = 2") < config.rindex("process.resourceLabels")
    assert "resourceLabels" in config and run["run_id"] in config
    assert (await storage.read_bytes(f"{root}/inputs/user.config")).decode() == "process.cpus = 2\n"
    params = yaml.safe_load(await storage.read_bytes(f"{root}/inputs/params.yaml"))
    assert params == {
        **PARAMS,
        "input": storage.uri(f"{root}/inputs/samplesheet.csv"),
        "outdir": storage.uri(f"{root}/results"),
    }
    user = await platform.service("runs").store.get_user("alice@example.com")
    assert user is not None and user.total_runs >= 1


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"pipeline": "NF-Core/ScRNAseq!"}, ["pipeline"]),
        ({"pipeline_version": "latest"}, ["pipeline_version"]),
        ({"samplesheet_csv": ""}, ["samplesheet_csv"]),
        ({"samplesheet_csv": "sample\n" + "x" * (10 * 1024 * 1024)}, ["samplesheet_csv"]),
        ({"config_content": "x" * (100 * 1024 + 1)}, ["config_content"]),
        ({"params": {**PARAMS, "outdir": "/elsewhere"}}, ["params.outdir"]),
        ({"pipeline": "BAD NAME", "pipeline_version": "1"}, ["pipeline", "pipeline_version"]),
    ],
)
async def test_spec_limits_are_reported_with_their_field(platform, overrides, fields) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.CreateRun(grpc_request(**overrides), metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = from_rpc_error(err.value)
    assert [v.field for v in error.violations] == fields


async def test_pipeline_violations_reach_the_client_as_400_details(platform) -> None:
    bad_sheet = "sample,fastq_1,fastq_2\ns1,reads.txt,s1_R2.fastq.gz\n,s2_R1.fastq.gz,s2_R2.fastq.gz\n"
    response = await platform.http.post(
        "/api/runs",
        json=body(samplesheet_csv=bad_sheet, params={"aligner": "bowtie", "protocol": "10XV3", "skip_fastqc": "no"}),
        headers=ALICE_HTTP,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    bad_request = next(d for d in error["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    fields = {v["field"] for v in bad_request["field_violations"]}
    assert "params.aligner" in fields
    assert any(f.startswith("samplesheet") and "fastq_1" in f for f in fields)
    assert any(f.startswith("samplesheet") and "sample" in f for f in fields)
    assert len(bad_request["field_violations"]) >= 4  # every problem at once


async def test_unknown_pipeline_or_version_is_not_found(platform) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.CreateRun(grpc_request(pipeline_version="9.9.9"), metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "2.7.1" in err.value.details()  # the versions that exist
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.CreateRun(grpc_request(pipeline="nf-core/nothing"), metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_retried_create_returns_the_same_run(platform) -> None:
    headers = {**ALICE_HTTP, "Idempotency-Key": "retry-1"}
    first = await platform.http.post("/api/runs", json=body(), headers=headers)
    second = await platform.http.post("/api/runs", json=body(), headers=headers)
    assert first.json()["run_id"] == second.json()["run_id"]
    # Another user's identical key is their own request.
    other = await platform.http.post(
        "/api/runs",
        json=body(),
        headers={"X-Goog-Authenticated-User-Email": "bob@example.com", "Idempotency-Key": "retry-1"},
    )
    assert other.json()["run_id"] != first.json()["run_id"]


async def test_concurrent_retries_make_one_run(platform) -> None:
    calls = [platform.runs.CreateRun(grpc_request(request_id="burst-7"), metadata=ALICE) for _ in range(10)]
    runs = await asyncio.gather(*calls)
    assert len({r.run_id for r in runs}) == 1
    count = await platform.service("runs").store.pool.fetchval("SELECT count(*) FROM runs WHERE request_id = 'burst-7'")
    assert count == 1
    storage = platform.service("runs").storage
    created = [i.key.split("/")[1] for i in await storage.list("runs") if i.key.endswith("params.yaml")]
    assert created.count(runs[0].run_id) == 1
    known = await _all_run_ids(platform)
    assert all(run_id in known for run_id in created)  # the losers left no inputs behind


async def _all_run_ids(platform) -> set[str]:
    rows = await platform.service("runs").store.pool.fetch("SELECT run_id FROM runs")
    return {r["run_id"] for r in rows}


async def test_files_listing_and_download(platform) -> None:
    run = (await platform.http.post("/api/runs", json=body(), headers=ALICE_HTTP)).json()
    run_id = run["run_id"]
    storage = platform.service("runs").storage
    await storage.write_bytes(f"runs/{run_id}/results/multiqc/multiqc_report.html", b"<html>report</html>")
    await storage.write_bytes(f"runs/{run_id}/logs/nextflow.log", b"log line\n")
    await storage.write_bytes(f"runs/{run_id}/work/ab/cdef/.command.out", b"not listed")
    files = (await platform.http.get(f"/api/runs/{run_id}/files", headers=ALICE_HTTP)).json()
    assert [f["path"] for f in files["inputs"]] == [
        "inputs/nextflow.config",
        "inputs/params.yaml",
        "inputs/samplesheet.csv",
        "inputs/user.config",
    ]
    report = files["results"][0]
    assert report["path"] == "results/multiqc/multiqc_report.html" and report["size"] == 19
    assert report["download_url"] == f"/api/runs/{run_id}/files/results/multiqc/multiqc_report.html"
    assert report["updated_at"]
    assert [f["path"] for f in files["logs"]] == ["logs/nextflow.log"]

    download = await platform.http.get(report["download_url"], headers=ALICE_HTTP)
    assert download.status_code == 200 and download.content == b"<html>report</html>"
    assert "multiqc_report.html" in download.headers["content-disposition"]

    stranger = await platform.http.get(report["download_url"], headers={"X-Goog-Authenticated-User-Email": "eve@x.org"})
    assert stranger.status_code == 404
    for path in ("results/../../../etc/passwd", "work/ab/cdef/.command.out", "results/nothing.txt"):
        response = await platform.http.get(f"/api/runs/{run_id}/files/{path}", headers=ALICE_HTTP)
        assert response.status_code in (400, 404), path


async def test_read_run_file_refuses_escapes(platform) -> None:
    run = (await platform.http.post("/api/runs", json=body(), headers=ALICE_HTTP)).json()
    for path in ("../other/inputs/params.yaml", "/etc/passwd", "inputs/../../x"):
        call = platform.runs.ReadRunFile(
            runs_service_pb2.ReadRunFileRequest(run_id=run["run_id"], path=path), metadata=ALICE
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call.read()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path


@pytest.mark.parametrize(
    "param",
    ["custom_config_base", "custom_config_version", "hook_url", "email", "config_profile_url", "igenomes_base"],
)
async def test_params_that_load_remote_config_or_leak_are_refused(platform, param: str) -> None:
    # nf-core's custom_config_base makes the pipeline includeConfig Groovy from that URL (nfcore_custom.config):
    # code from anywhere running on the orchestrator's VM.
    before = (await platform.http.get("/api/runs?page_size=500", headers=ALICE_HTTP)).json()["total"]
    response = await platform.http.post(
        "/api/runs", json=body(params={**PARAMS, param: "https://evil.example.com/x"}), headers=ALICE_HTTP
    )
    assert response.status_code == 400, response.text
    details = next(d for d in response.json()["error"]["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    violation = next(v for v in details["field_violations"] if v["field"] == f"params.{param}")
    assert "may not be set on this platform" in violation["description"]
    after = (await platform.http.get("/api/runs?page_size=500", headers=ALICE_HTTP)).json()["total"]
    assert after == before  # nothing was created


async def test_per_user_limits_answer_429_with_retry_after(make_database, tmp_path) -> None:
    from tests.support.platform import running_platform
    from tests.support.runs import insert_run

    dsn = await make_database()
    async with running_platform(
        database_url=dsn,
        data_dir=tmp_path,
        targets=["runs", "pipelines", "gateway"],
        max_active_runs_per_user=2,
        max_runs_created_per_hour=3,
    ) as running:
        store = running.service("runs").store
        for _ in range(2):
            await insert_run(store, status="running", user_email="alice@example.com")
        busy = await running.http.post("/api/runs", json=body(), headers=ALICE_HTTP)
        assert busy.status_code == 429, busy.text
        assert busy.json()["error"]["code"] == "RESOURCE_EXHAUSTED" and "active runs" in busy.json()["error"]["message"]
        assert int(busy.headers["Retry-After"]) >= 1
        # Another user is not held back by alice's runs.
        bob = {"X-Goog-Authenticated-User-Email": "bob@example.com"}
        assert (await running.http.post("/api/runs", json=body(), headers=bob)).status_code == 201

        # Three created within the hour (finished ones too) hit the creation rate.
        await insert_run(store, status="completed", user_email="alice@example.com")
        for run in await store.pool.fetch("SELECT run_id FROM runs WHERE user_email = 'alice@example.com'"):
            if (await store.get_run(run["run_id"])).status == "running":
                await store.move(run["run_id"], "cancelled", reason="test", actor="test")
        fast = await running.http.post("/api/runs", json=body(), headers=ALICE_HTTP)
        assert fast.status_code == 429 and "in the last hour" in fast.json()["error"]["message"]
        assert 3000 < int(fast.headers["Retry-After"]) <= 3600  # when the oldest leaves the window
        retry = next(d for d in fast.json()["error"]["details"] if d["@type"].endswith("google.rpc.RetryInfo"))
        assert retry["retry_delay"].endswith("s")


async def test_a_body_over_the_limit_is_413_before_it_is_read(platform) -> None:
    # A declared length over the limit: refused without reading a byte.
    huge = b'{"pipeline": "nf-core/scrnaseq", "samplesheet_csv": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    response = await platform.http.post(
        "/api/runs", content=huge, headers={**ALICE_HTTP, "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    # A chunked body (no Content-Length) is counted as it arrives.
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * (512 * 1024)

    streamed = await platform.http.post(
        "/api/runs", content=chunks(), headers={**ALICE_HTTP, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    # Under the limit, the route answers as usual.
    assert (await platform.http.post("/api/runs", json=body(), headers=ALICE_HTTP)).status_code == 201


async def test_params_and_notes_are_bounded(platform) -> None:
    big = await platform.http.post(
        "/api/runs", json=body(params={**PARAMS, "multiqc_title": "t" * 300_000}), headers=ALICE_HTTP
    )
    assert big.status_code == 400
    fields = [v["field"] for d in big.json()["error"]["details"] for v in d.get("field_violations", [])]
    assert "params" in fields

    from tests.support.runs import insert_run

    failed = await insert_run(platform.service("runs").store, status="failed", user_email="alice@example.com")
    long_notes = await platform.http.post(
        f"/api/runs/{failed}/recover", json={"notes": "n" * 5000, "reuse_work_dir": False}, headers=ALICE_HTTP
    )
    assert long_notes.status_code == 400
    assert long_notes.json()["error"]["details"][0]["field_violations"][0]["field"] == "notes"
