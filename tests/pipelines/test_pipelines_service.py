"""The Pipelines service over real gRPC and HTTP: registry, schemas, validation, config rendering.

One platform (all services + gateway) per module; the catalog-as-files test starts a second one (Pipelines
and the gateway only) on a temporary copy of the catalog with new pipeline folders.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from arc.pipelines.v1 import pipelines_service_pb2, pipelines_service_pb2_grpc
from arc.runs.v1 import runs_service_pb2
from arc_core.grpc_errors import from_rpc_error
from arc_core.paging import encode_offset, query_key
from arc_core.protos import to_struct
from services.pipelines.catalog import DEFAULT_CATALOG_DIR
from tests.pipelines.test_config_render import HOSTILE, parse_groovy_single_quoted
from tests.support.platform import Running, email_metadata, running_platform

ALICE = email_metadata("alice@example.com")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
SCRNASEQ = "nf-core/scrnaseq"
VERSIONS = ["2.7.1", "2.6.0", "2.5.1"]
PARAMS = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}
SHEET = "sample,fastq_1,fastq_2\ns1,s1_R1.fastq.gz,s1_R2.fastq.gz\n"


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    dsn = await make_database()
    async with running_platform(database_url=dsn, data_dir=tmp_path_factory.mktemp("arc")) as running:
        yield running


@pytest.fixture
def pipelines(platform: Running) -> pipelines_service_pb2_grpc.PipelinesServiceStub:
    return pipelines_service_pb2_grpc.PipelinesServiceStub(platform.channel)


def _detail(body: dict, kind: str) -> dict:
    return next(d for d in body["error"]["details"] if d["@type"].endswith(kind))


def _params_by_name(schema: dict) -> dict[str, dict]:
    return {p["name"]: p for group in schema["param_groups"] for p in group["params"]}


# -- registry ---------------------------------------------------------------------------------------------


async def test_list_pipelines_over_http_and_grpc(platform: Running, pipelines) -> None:
    response = await platform.http.get("/api/pipelines", headers=ALICE_HTTP)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["name"] for p in body["pipelines"]] == ["demo/hello", SCRNASEQ]
    assert body["next_page_token"] is None
    scrnaseq = body["pipelines"][1]
    assert scrnaseq["versions"] == VERSIONS and scrnaseq["default_version"] == "2.7.1"
    assert scrnaseq["repository_url"] == "https://github.com/nf-core/scrnaseq" and scrnaseq["description"]

    first = await pipelines.ListPipelines(pipelines_service_pb2.ListPipelinesRequest(page_size=1), metadata=ALICE)
    second = await pipelines.ListPipelines(
        pipelines_service_pb2.ListPipelinesRequest(page_size=1, page_token=first.next_page_token), metadata=ALICE
    )
    assert [p.name for p in (*first.pipelines, *second.pipelines)] == ["demo/hello", SCRNASEQ]
    assert second.next_page_token == ""
    bad = await platform.http.get("/api/pipelines", params={"page_size": -1})
    assert bad.status_code == 400 and _detail(bad.json(), "BadRequest")["field_violations"][0]["field"] == "page_size"


async def test_list_pipelines_tokens_are_opaque_and_bound_to_the_list(platform: Running, pipelines) -> None:
    """The shared token format (arc_core.paging): no longer a bare integer a client can make up, and a token
    of another list is refused."""
    first = await pipelines.ListPipelines(pipelines_service_pb2.ListPipelinesRequest(page_size=1), metadata=ALICE)
    assert first.next_page_token and not first.next_page_token.isdecimal()
    runs_page = await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(page_size=1), metadata=ALICE)
    other_list = runs_page.next_page_token or encode_offset(1, query_key("ListTasks", "run-1a2b3c4d", "", ""))
    for token, message in [("1", "invalid page_token"), (other_list, "page_token does not match the request")]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await pipelines.ListPipelines(pipelines_service_pb2.ListPipelinesRequest(page_token=token), metadata=ALICE)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details() == message
        rest = await platform.http.get("/api/pipelines", params={"page_token": token}, headers=ALICE_HTTP)
        assert rest.status_code == 400 and _detail(rest.json(), "BadRequest")["field_violations"][0]["field"] == (
            "page_token"
        )


async def test_get_pipeline_by_a_name_with_a_slash(platform: Running) -> None:
    response = await platform.http.get("/api/pipelines/nf-core/scrnaseq", headers=ALICE_HTTP)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == SCRNASEQ and response.json()["display_name"] == "nf-core/scrnaseq"
    assert (await platform.http.get("/api/pipelines/NF-Core/scRNAseq")).json()["name"] == SCRNASEQ
    assert (await platform.http.get("/api/pipelines/nf-core%2Fscrnaseq")).json()["name"] == SCRNASEQ
    demo = (await platform.http.get("/api/pipelines/demo/hello")).json()
    assert demo["versions"] == ["1.0.0"] and demo["display_name"] == "Hello (demo)"


@pytest.mark.parametrize("version", [*VERSIONS, ""])
async def test_schema_of_each_version(platform: Running, version: str) -> None:
    response = await platform.http.get(
        f"/api/pipelines/{SCRNASEQ}/schema", params={"version": version} if version else {}
    )
    assert response.status_code == 200, response.text
    schema = response.json()
    expected = version or "2.7.1"
    assert schema["name"] == SCRNASEQ and schema["version"] == expected
    columns = {c["name"]: c for c in schema["samplesheet_columns"]}
    required = ["sample", "fastq_1"] if expected == "2.5.1" else ["sample", "fastq_1", "fastq_2"]
    assert [n for n, c in columns.items() if c["required"]] == required
    assert columns["fastq_1"]["pattern"] == r"^\S+\.f(ast)?q\.gz$" and columns["sample"]["pattern"] == r"^\S+$"
    assert ("expected_cells" in columns) == (expected != "2.5.1")
    assert expected == "2.5.1" or columns["expected_cells"]["type"] == "integer"
    assert ("feature_type" in columns) == (expected == "2.7.1")

    groups = [g["name"] for g in schema["param_groups"]]
    assert groups[:3] == ["input_output_options", "mandatory_arguments", "skip_tools"]
    assert ("cellranger_multi_options" in groups) == (expected == "2.7.1")
    params = _params_by_name(schema)
    assert params["input"]["platform_managed"] and params["outdir"]["platform_managed"]
    assert not params["protocol"]["required"] and not params["genome"]["required"]  # upstream requires neither
    aligner = params["aligner"]
    assert aligner["default"] == "alevin" and {"alevin", "kallisto", "star", "cellranger", "universc"} <= set(
        aligner["enum"]
    )
    assert ("cellrangermulti" in aligner["enum"]) == (expected == "2.7.1")
    assert ("nac" if expected != "2.5.1" else "nucleus") in params["kb_workflow"]["enum"]
    assert params["aligner"]["help_text"] or params["aligner"]["description"]
    # The shipped files, as objects.
    assert schema["params_schema"]["$schema"] == "http://json-schema.org/draft-07/schema"
    assert schema["samplesheet_schema"]["items"]["required"] == required


async def test_demo_pipeline_schema(platform: Running, pipelines) -> None:
    schema = (await platform.http.get("/api/pipelines/demo/hello/schema")).json()
    assert schema["version"] == "1.0.0"
    assert [c["name"] for c in schema["samplesheet_columns"]] == ["sample", "fastq_1", "fastq_2", "reads"]
    assert next(c for c in schema["samplesheet_columns"] if c["name"] == "sample")["unique"]
    params = _params_by_name(schema)
    assert params["greeting"]["required"] and params["greeting"]["default"] == "Hello"
    assert params["times"]["type"] == "integer" and params["times"]["default"] == 1
    assert params["style"]["enum"] == ["plain", "shout", "whisper"] and params["debug_sleep"]["hidden"]
    over_grpc = await pipelines.GetPipelineSchema(
        pipelines_service_pb2.GetPipelineSchemaRequest(name="demo/hello"), metadata=ALICE
    )
    assert [c.name for c in over_grpc.samplesheet_columns] == ["sample", "fastq_1", "fastq_2", "reads"]


async def test_unknown_pipeline_or_version_is_404_with_what_exists(platform: Running, pipelines) -> None:
    missing = await platform.http.get("/api/pipelines/nf-core/nothing")
    assert missing.status_code == 404
    assert "demo/hello, nf-core/scrnaseq" in missing.json()["error"]["message"]
    for path in (f"/api/pipelines/{SCRNASEQ}/schema?version=9.9.9", "/api/pipelines/nf-core/nothing/schema"):
        assert (await platform.http.get(path)).status_code == 404, path
    response = await platform.http.get(f"/api/pipelines/{SCRNASEQ}/schema", params={"version": "9.9.9"})
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND" and "2.7.1, 2.6.0, 2.5.1" in error["message"]
    info = _detail(response.json(), "ErrorInfo")
    assert (
        info["reason"] == "PIPELINE_VERSION_NOT_FOUND"
        and info["metadata"]["available_versions"] == "2.7.1, 2.6.0, 2.5.1"
    )

    not_semver = await platform.http.get(f"/api/pipelines/{SCRNASEQ}/schema", params={"version": "latest"})
    assert not_semver.status_code == 400
    assert _detail(not_semver.json(), "BadRequest")["field_violations"][0]["field"] == "pipeline_version"

    for method, request in (
        (
            pipelines.ValidateRunInputs,
            pipelines_service_pb2.ValidateRunInputsRequest(
                pipeline=SCRNASEQ, pipeline_version="1.0.0", samplesheet_csv=SHEET
            ),
        ),
        (
            pipelines.RenderConfig,
            pipelines_service_pb2.RenderConfigRequest(pipeline=SCRNASEQ, pipeline_version="1.0.0"),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await method(request, metadata=ALICE)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert from_rpc_error(err.value).metadata["available_versions"] == "2.7.1, 2.6.0, 2.5.1"


# -- validation -------------------------------------------------------------------------------------------


async def _violations(pipelines, params: dict[str, Any], sheet: str, **extra: object) -> list[tuple[str, str]]:
    request = pipelines_service_pb2.ValidateRunInputsRequest(
        pipeline=SCRNASEQ, pipeline_version="2.7.1", params=to_struct(params), samplesheet_csv=sheet, **extra
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pipelines.ValidateRunInputs(request, metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return [(v.field, v.description) for v in from_rpc_error(err.value).violations]


async def test_every_problem_is_reported_with_its_location(pipelines) -> None:
    sheet = (
        "\ufeffsample,fastq_1,fastq_2,expected_cells\r\n"
        "S 1,a_R1.fastq.gz,a_R2.fastq.gz,many\r\n"
        ",b_R1.txt,b_R1.txt,10\r\n"
        "\r\n"
        'S3,"c,1_R1.fq.gz",c_R2.fq.gz,\r\n'
        "S4,d_R1.fastq.gz,d_R2.fastq.gz,1,extra\r\n"
    )
    params = {"aligner": "bowtie", "alinger": "star", "outdir": "/elsewhere", "kb_workflow": 3}
    found = await _violations(pipelines, params, sheet)
    fields = [f for f, _ in found]
    # Params first, then the samplesheet in row order (a Struct's keys arrive in no fixed order).
    assert sorted(fields[:2]) == ["params.alinger", "params.outdir"]
    assert fields[2:] == [
        "params.aligner",
        "params.kb_workflow",
        "params.kb_workflow",
        "samplesheet[row 1].sample",
        "samplesheet[row 1].expected_cells",
        "samplesheet[row 2].sample",
        "samplesheet[row 2].fastq_1",
        "samplesheet[row 2].fastq_2",
        "samplesheet[row 2].fastq_2",
        "samplesheet[row 3]",
        "samplesheet[row 5]",
    ]
    text = dict(found)
    assert "did you mean 'aligner'" in text["params.alinger"]
    assert "got 'bowtie'" in text["params.aligner"]
    assert "Expected cells must be an Integer" in text["samplesheet[row 1].expected_cells"]

    missing_column = await _violations(pipelines, PARAMS, "sample,fastq_1\ns1,s1_R1.fastq.gz\n")
    assert missing_column == [("samplesheet[header].fastq_2", "required column is missing")]
    empty = await _violations(pipelines, PARAMS, "")
    assert [f for f, _ in empty] == ["samplesheet"]


async def test_valid_inputs_answer_the_sample_count(pipelines) -> None:
    sheet = (
        "\ufeffsample,fastq_1,fastq_2,expected_cells\r\n"
        "s1,s1_L001_R1.fastq.gz,s1_L001_R2.fastq.gz,5000\r\n"
        "s1,s1_L002_R1.fastq.gz,s1_L002_R2.fastq.gz,5000\r\n"
        '"s2","gs://b/s2_R1.fq.gz","gs://b/s2_R2.fq.gz",\r\n'
    )
    request = pipelines_service_pb2.ValidateRunInputsRequest(
        pipeline=SCRNASEQ, params=to_struct(PARAMS), samplesheet_csv=sheet
    )
    assert (await pipelines.ValidateRunInputs(request, metadata=ALICE)).sample_count == 2


async def test_samplesheet_only_skips_params_and_refuses_them(pipelines) -> None:
    request = pipelines_service_pb2.ValidateRunInputsRequest(
        pipeline=SCRNASEQ, samplesheet_csv=SHEET, samplesheet_only=True
    )
    assert (await pipelines.ValidateRunInputs(request, metadata=ALICE)).sample_count == 1
    assert await _violations(
        pipelines, {}, "sample,fastq_1,fastq_2\ns 1,x.fastq.gz,y.fastq.gz\n", samplesheet_only=True
    ) == [("samplesheet[row 1].sample", "Sample name must be provided and cannot contain spaces (got 's 1')")]
    assert [f for f, _ in await _violations(pipelines, PARAMS, SHEET, samplesheet_only=True)] == ["params"]
    assert [f for f, _ in await _violations(pipelines, {"protcol": "10XV3"}, SHEET)] == ["params.protcol"]


async def test_create_run_shows_the_violations_as_400_details(platform: Running) -> None:
    response = await platform.http.post(
        "/api/runs",
        json={
            "pipeline": SCRNASEQ,
            "pipeline_version": "2.6.0",
            "samplesheet_csv": "sample,fastq_1,fastq_2,feature_type\ns1,s1.bam,s1_R2.fastq.gz,gex\n",
            "params": {"protocol": "10XV3", "aligner": "cellrangermulti"},
        },
        headers=ALICE_HTTP,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT" and "nf-core/scrnaseq 2.6.0" in error["message"]
    fields = [v["field"] for v in _detail(response.json(), "BadRequest")["field_violations"]]
    # cellrangermulti arrived in 2.7.0; feature_type is unknown to 2.6.0's samplesheet, and tolerated.
    assert fields == ["params.aligner", "samplesheet[row 1].fastq_1"]


# -- config rendering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
async def test_render_config_hostile_values_round_trip(pipelines, value: str) -> None:
    request = pipelines_service_pb2.RenderConfigRequest(
        pipeline=SCRNASEQ,
        params=to_struct({"genome": value, "protocol": "10XV3", "nested": {"k": [value]}}),
        user_config="process.cpus = 2",
        run_id="run-0a1b2c3d",
    )
    config = (await pipelines.RenderConfig(request, metadata=ALICE)).config_content
    start = config.index("params.genome = ") + len("params.genome = ")
    parsed, end = parse_groovy_single_quoted(config, start)
    assert parsed == value and config[end] == "\n"
    nested = config.index("params.nested = [k: [") + len("params.nested = [k: [")
    assert parse_groovy_single_quoted(config, nested)[0] == value
    assert "\nprocess.cpus = 2\n" in config and "pipeline: 'nf-core/scrnaseq' '2.7.1'" in config
    # The platform block comes after the user's lines; scrnaseq caps through params.max_* (manifest).
    assert config.index("process.cpus = 2") < config.rindex("process.resourceLabels = ")
    assert config.rindex("params.max_cpus = ") > config.index("process.cpus = 2")
    # process.resourceLimits is written in both resource_caps modes (issue 9), after the user's lines.
    assert config.rindex("process.resourceLimits = ") > config.index("process.cpus = 2")
    again = (await pipelines.RenderConfig(request, metadata=ALICE)).config_content
    assert again == config  # deterministic


async def test_render_config_refuses_what_it_cannot_quote(pipelines) -> None:
    request = pipelines_service_pb2.RenderConfigRequest(
        pipeline=SCRNASEQ, params=to_struct({"bad name": 1, "class": 2}), user_config="x" * (100 * 1024 + 1)
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await pipelines.RenderConfig(request, metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in from_rpc_error(err.value).violations] == ["params.bad name", "params.class", "user_config"]


# -- the catalog is files ---------------------------------------------------------------------------------


def _catalog_with_new_pipelines(root: Path, files: SimpleNamespace) -> Path:
    catalog = root / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, catalog)
    bulk = files.params_schema({"depth": {"type": "integer", "minimum": 1, "default": 10}})
    files.write(
        catalog,
        "acme-bulkseq",
        name="acme/bulkseq",
        versions={"1.1.0": (bulk, files.input_schema()), "1.0.0": (bulk, files.input_schema(sample_unique=True))},
        default="1.1.0",
    )
    # A pipeline whose name ends in /schema: the REST routes must still tell it from a schema request.
    files.write(
        catalog, "acme-schema", name="acme/schema", versions={"0.1.0": (files.params_schema(), files.input_schema())}
    )
    return catalog


async def test_a_pipeline_added_as_files_appears_without_code_changes(tmp_path: Path, pipeline_files) -> None:
    catalog = await asyncio.to_thread(_catalog_with_new_pipelines, tmp_path, pipeline_files)
    async with running_platform(
        database_url=None,  # type: ignore[arg-type]
        data_dir=tmp_path / "arc",
        targets=["pipelines", "gateway"],
        catalog_dir=catalog,
    ) as running:
        http = running.http
        names = [p["name"] for p in (await http.get("/api/pipelines")).json()["pipelines"]]
        assert names == ["acme/bulkseq", "acme/schema", "demo/hello", SCRNASEQ]
        bulk = (await http.get("/api/pipelines/acme/bulkseq")).json()
        assert bulk["versions"] == ["1.1.0", "1.0.0"] and bulk["default_version"] == "1.1.0"
        schema = (await http.get("/api/pipelines/acme/bulkseq/schema", params={"version": "1.0.0"})).json()
        assert schema["version"] == "1.0.0"
        assert [c["name"] for c in schema["samplesheet_columns"]] == ["sample", "fastq_1", "fastq_2", "cells"]
        assert _params_by_name(schema)["depth"]["default"] == 10

        assert (await http.get("/api/pipelines/acme/schema")).json()["name"] == "acme/schema"
        own = (await http.get("/api/pipelines/acme/schema/schema")).json()
        assert own["name"] == "acme/schema" and own["version"] == "0.1.0"

        stub = pipelines_service_pb2_grpc.PipelinesServiceStub(running.channel)
        sheet = "sample,fastq_1,cells\na,a_R1.fastq.gz,5\na,a2_R1.fastq.gz,0\n"
        for version, fields in (
            ("1.1.0", ["samplesheet[row 2].cells"]),
            ("1.0.0", ["samplesheet[row 2].cells", "samplesheet[row 2].sample"]),
        ):
            request = pipelines_service_pb2.ValidateRunInputsRequest(
                pipeline="acme/bulkseq", pipeline_version=version, params=to_struct({"depth": 0}), samplesheet_csv=sheet
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ValidateRunInputs(request, metadata=ALICE)
            got = [v.field for v in from_rpc_error(err.value).violations]
            assert got == ["params.depth", *fields], version
