"""The params the platform fills come from the pipeline's manifest, whatever the pipeline calls them."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from arc.pipelines.v1 import pipelines_service_pb2, pipelines_service_pb2_grpc
from arc_core.protos import to_struct
from services.pipelines.catalog import DEFAULT_CATALOG_DIR
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running, email_metadata, running_platform

NEXTFLOW_STANDIN = str(Path(__file__).resolve().parents[1] / "fakes" / "nextflow")
ALICE = email_metadata("alice@example.com")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
DATA = TEST_INPUTS
SAMPLESHEET = (
    "sample,fastq_1,fastq_2\n"
    f"s1,{DATA}/s1_R1.fastq.gz,{DATA}/s1_R2.fastq.gz\n"
    f"s2,{DATA}/s2_R1.fastq.gz,{DATA}/s2_R2.fastq.gz\n"
)
RENAMED = "acme/renamed"


def _catalog_with_renamed_params(root: Path) -> Path:
    """The shipped catalog plus demo/hello as ``acme/renamed``, whose input/output params are named otherwise."""
    catalog = root / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, catalog)
    folder = catalog / "acme-renamed"
    shutil.copytree(DEFAULT_CATALOG_DIR / "demo-hello", folder)
    manifest_path = folder / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["name"] = RENAMED
    manifest["platform_params"] = {"samplesheet_path": "samplesheet", "output_dir": "results"}
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    for schema in (folder / "versions").glob("*/nextflow_schema.json"):
        text = schema.read_text().replace('"input"', '"samplesheet_path"').replace('"outdir"', '"output_dir"')
        schema.write_text(text)
    return catalog


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    root = tmp_path_factory.mktemp("arc-platform-params")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NXF_FAKE_TASK_SECONDS", "0.05")
        env.setenv("ARC_LOG_SYNC_SECONDS", "0.2")
        async with running_platform(
            database_url=await make_database(),
            data_dir=root / "arc",
            targets=["runs", "pipelines", "gateway"],
            nextflow_bin=NEXTFLOW_STANDIN,
            catalog_dir=_catalog_with_renamed_params(root),
        ) as running:
            yield running


async def test_validation_names_the_manifests_platform_params(platform: Running) -> None:
    stub = pipelines_service_pb2_grpc.PipelinesServiceStub(platform.channel)
    for pipeline, expected in (
        (RENAMED, {"samplesheet_path": "samplesheet", "output_dir": "results"}),
        ("demo/hello", {"input": "samplesheet", "outdir": "results"}),
    ):
        response = await stub.ValidateRunInputs(
            pipelines_service_pb2.ValidateRunInputsRequest(
                pipeline=pipeline, params=to_struct({"greeting": "hi"}), samplesheet_csv=SAMPLESHEET
            ),
            metadata=ALICE,
        )
        assert dict(response.platform_params) == expected


async def test_params_yaml_fills_the_params_the_manifest_names(platform: Running) -> None:
    body = {
        "pipeline": RENAMED,
        "pipeline_version": "1.0.0",
        "samplesheet_csv": SAMPLESHEET,
        "params": {"greeting": "hi"},
    }
    response = await platform.http.post("/api/runs", json=body, headers=ALICE_HTTP)
    assert response.status_code == 201, response.text
    run_id = response.json()["run_id"]
    storage = platform.service("runs").storage
    root = f"runs/{run_id}"
    params = yaml.safe_load(await storage.read_bytes(f"{root}/inputs/params.yaml"))
    assert params == {
        "greeting": "hi",
        "samplesheet_path": storage.uri(f"{root}/inputs/samplesheet.csv"),
        "output_dir": storage.uri(f"{root}/results"),
    }


async def test_a_user_may_not_set_a_renamed_platform_param(platform: Running) -> None:
    body = {
        "pipeline": RENAMED,
        "pipeline_version": "1.0.0",
        "samplesheet_csv": SAMPLESHEET,
        "params": {"greeting": "hi", "output_dir": "/tmp/elsewhere"},
    }
    response = await platform.http.post("/api/runs", json=body, headers=ALICE_HTTP)
    assert response.status_code == 400, response.text
    assert "params.output_dir" in response.text
