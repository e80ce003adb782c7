"""Launch documents (JSON and YAML, exported and posted back), relaunch, and validation without a run, on the
embedded stack: runs really run (the local executor, the orchestrator, the Nextflow stand-in)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest
import yaml
from google.rpc import error_details_pb2

from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.grpc_errors import decode_status
from arc_core.protos import to_struct
from gateway.yaml_bodies import MAX_YAML_DEPTH, MAX_YAML_NODES, YamlRefused, dump_yaml, load_yaml_mapping
from services.runs import status as st
from tests.runs.conftest import insert_run
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running, email_metadata

ALICE = "alice@example.com"
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{ALICE}"}
BOB_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:bob@example.com"}
ADMIN_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com"}
YAML = "application/yaml"
SAMPLESHEET = (
    "sample,fastq_1,fastq_2\n"
    f"s1,{TEST_INPUTS}/s1_R1.fastq.gz,{TEST_INPUTS}/s1_R2.fastq.gz\n"
    f"s2,{TEST_INPUTS}/s2_R1.fastq.gz,{TEST_INPUTS}/s2_R2.fastq.gz\n"
)
# Every key of a POST /api/runs body (gateway.routers.runs.CreateRunBody).
BODY_KEYS = {
    "pipeline",
    "pipeline_version",
    "samplesheet_csv",
    "config_content",
    "params",
    "source_ngs_runs",
    "source_project",
    "name",
    "description",
    "labels",
}


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "pipeline": "demo/hello",
        "pipeline_version": "1.0.0",
        "samplesheet_csv": SAMPLESHEET,
        "config_content": "process.cpus = 2\n",
        "params": {"greeting": "hi", "times": 2},
        "source_ngs_runs": ["NGS-2024-002"],
        "source_project": "ProjectX",
        "name": "greetings for the lab",
        "description": "first try\nwith two samples",
        "labels": {"team": "onc", "purpose": "demo"},
        **overrides,
    }


async def create(platform: Running, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await platform.http.post("/api/runs", json=payload or body(), headers=ALICE_HTTP)
    assert response.status_code == 201, response.text
    return response.json()


async def wait_terminal(platform: Running, run_id: str, timeout: float = 60) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            run = (await platform.http.get(f"/api/runs/{run_id}", headers=ALICE_HTTP)).json()
            if st.is_terminal(run["status"]):
                return run
            await asyncio.sleep(0.2)


async def launch(platform: Running, run_id: str, headers: dict[str, str] = ALICE_HTTP) -> dict[str, Any]:
    response = await platform.http.get(f"/api/runs/{run_id}/launch", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def violations(response: Any) -> dict[str, str]:
    (detail,) = [d for d in response.json()["error"]["details"] if d["@type"].endswith("BadRequest")]
    return {v["field"]: v["description"] for v in detail["field_violations"]}


def reason(response: Any) -> str:
    infos = [d for d in response.json()["error"]["details"] if d["@type"].endswith("ErrorInfo")]
    return infos[0]["reason"] if infos else ""


async def stored(platform: Running) -> tuple[int, set[str]]:
    """How many run rows there are, and the run folders in storage."""
    service = platform.service("runs")
    rows = await service.store.pool.fetchval("SELECT count(*) FROM runs")
    folders = {info.key.split("/")[1] for info in await service.storage.list("runs/")}
    return rows, folders


@pytest.fixture(scope="module")
async def completed(platform: Running) -> dict[str, Any]:
    """One of Alice's runs, run to completion."""
    run = await create(platform)
    final = await wait_terminal(platform, run["run_id"])
    assert final["status"] == "completed", final
    return final


async def test_launch_document_is_the_create_body(platform: Running, completed: dict[str, Any]) -> None:
    document = await launch(platform, completed["run_id"])
    assert set(document) == BODY_KEYS
    assert document == body()


async def test_exported_json_and_yaml_post_back_to_an_identical_run(
    platform: Running, completed: dict[str, Any]
) -> None:
    first = await launch(platform, completed["run_id"])
    exported = await platform.http.get(
        f"/api/runs/{completed['run_id']}/launch", headers={**ALICE_HTTP, "Accept": YAML}
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith(YAML)
    assert f"{completed['run_id']}.launch.yaml" in exported.headers["content-disposition"]
    text = exported.text
    assert "samplesheet_csv: |\n  sample,fastq_1,fastq_2\n" in text  # readable: a literal block
    assert "labels:\n  purpose: demo\n  team: onc\n" in text  # in key order: exports diff cleanly
    assert yaml.safe_load(text) == first
    by_query = await platform.http.get(f"/api/runs/{completed['run_id']}/launch?format=yaml", headers=ALICE_HTTP)
    assert by_query.headers["content-type"].startswith(YAML) and by_query.text == text

    from_json = await create(platform, first)
    posted_yaml = await platform.http.post(
        "/api/runs", content=text.encode(), headers={**ALICE_HTTP, "Content-Type": YAML}
    )
    assert posted_yaml.status_code == 201, posted_yaml.text
    for run in (from_json, posted_yaml.json()):
        assert run["run_id"] != completed["run_id"] and run["relaunched_from"] is None
        assert await launch(platform, run["run_id"]) == first
        assert (run["name"], run["labels"], run["sample_count"]) == (
            completed["name"],
            completed["labels"],
            completed["sample_count"],
        )


async def test_relaunch_a_completed_run_with_one_param_changed(platform: Running, completed: dict[str, Any]) -> None:
    source = await launch(platform, completed["run_id"])
    response = await platform.http.post(
        f"/api/runs/{completed['run_id']}/relaunch",
        json={"override_params": {"greeting": "hello"}},
        headers=ALICE_HTTP,
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["relaunched_from"] == completed["run_id"]
    assert new["is_recovery"] is False and new["parent_run_id"] is None and new["reused_work_dir"] is None
    assert new["nextflow_session_id"] != completed["nextflow_session_id"]  # a fresh session, not a resume
    assert new["name"] == "hello · 2 samples · ProjectX"  # the default name: none was given
    document = await launch(platform, new["run_id"])
    changed = {key for key in source if document[key] != source[key]}
    assert changed == {"params", "name"}
    assert {k for k in source["params"] if document["params"][k] != source["params"][k]} == {"greeting"}
    assert document["params"] == {"greeting": "hello", "times": 2}
    assert (document["description"], document["labels"]) == (source["description"], source["labels"])
    final = await wait_terminal(platform, new["run_id"])
    assert final["status"] == "completed"


async def test_relaunch_overrides_replace_and_remove(platform: Running, completed: dict[str, Any]) -> None:
    one_sample = "sample,fastq_1,fastq_2\n" + SAMPLESHEET.splitlines(keepends=True)[1]
    response = await platform.http.post(
        f"/api/runs/{completed['run_id']}/relaunch",
        json={
            "override_params": {"times": None},  # null removes a param when merged
            "override_config": "",
            "override_samplesheet_csv": one_sample,
            "name": "just s1",
        },
        headers={**ALICE_HTTP, "Idempotency-Key": "relaunch-once"},
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["name"] == "just s1" and new["sample_count"] == 1
    document = await launch(platform, new["run_id"])
    assert document["params"] == {"greeting": "hi"}
    assert document["config_content"] == "" and document["samplesheet_csv"] == one_sample
    again = await platform.http.post(
        f"/api/runs/{completed['run_id']}/relaunch",
        json={"override_params": {"times": None}},
        headers={**ALICE_HTTP, "Idempotency-Key": "relaunch-once"},
    )
    assert again.status_code == 201 and again.json()["run_id"] == new["run_id"]  # a retry, not a second run

    replaced = await platform.http.post(
        f"/api/runs/{completed['run_id']}/relaunch",
        json={"override_params": {"greeting": "yo"}, "merge_params": False, "unknown": 1},
        headers=ALICE_HTTP,
    )
    assert replaced.status_code == 400 and "unknown" in violations(replaced)
    bad = await platform.http.post(
        f"/api/runs/{completed['run_id']}/relaunch", json={"override_params": {"greeting": ""}}, headers=ALICE_HTTP
    )
    assert bad.status_code == 400 and "params.greeting" in violations(bad), bad.text
    from_yaml = await platform.http.post(
        f"/api/runs/{completed['run_id']}/relaunch",
        content=b"override_params:\n  greeting: from yaml\nname: yaml relaunch\n",
        headers={**ALICE_HTTP, "Content-Type": YAML},
    )
    assert from_yaml.status_code == 201, from_yaml.text
    assert from_yaml.json()["params"] == {"greeting": "from yaml", "times": 2}
    no_version = await platform.http.post(
        f"/api/runs/{completed['run_id']}/relaunch", json={"pipeline_version": "9.9.9"}, headers=ALICE_HTTP
    )
    assert no_version.status_code == 404 and reason(no_version) == "PIPELINE_VERSION_NOT_FOUND"


async def test_relaunch_an_active_run_is_409(platform: Running, runs_service: Any) -> None:
    for status in (st.PENDING, st.SUBMITTED, st.RUNNING):
        run_id = await insert_run(runs_service, owner=ALICE, status=status)
        response = await platform.http.post(f"/api/runs/{run_id}/relaunch", json={}, headers=ALICE_HTTP)
        assert response.status_code == 409, response.text
        assert reason(response) == "RUN_ACTIVE"


async def test_a_purged_run_has_no_launch_document(
    platform: Running, runs_service: Any, completed: dict[str, Any]
) -> None:
    run_id = await insert_run(runs_service, owner=ALICE, status=st.COMPLETED)
    await runs_service.store.pool.execute("UPDATE runs SET purged_at = now() WHERE run_id = $1", run_id)
    got = await platform.http.get(f"/api/runs/{run_id}/launch", headers=ALICE_HTTP)
    relaunched = await platform.http.post(f"/api/runs/{run_id}/relaunch", json={}, headers=ALICE_HTTP)
    for response in (got, relaunched):
        assert response.status_code == 410, response.text
        assert reason(response) == "RUN_PURGED"
    # A run whose inputs are not in storage (made by hand here) cannot give one either: said, not a 500.
    bare = await insert_run(runs_service, owner=ALICE, status=st.COMPLETED)
    missing = await platform.http.get(f"/api/runs/{bare}/launch", headers=ALICE_HTTP)
    assert missing.status_code == 400 and reason(missing) == "RUN_INPUTS_MISSING"


async def test_validate_answers_and_stores_nothing(platform: Running, completed: dict[str, Any]) -> None:
    before = await stored(platform)
    good = await platform.http.post("/api/runs:validate", json=body(name=""), headers=ALICE_HTTP)
    assert good.status_code == 200, good.text
    assert good.json() == {"sample_count": 2, "name": "hello · 2 samples · ProjectX", "warnings": []}
    as_yaml = await platform.http.post(
        "/api/runs:validate", content=yaml.safe_dump(body()).encode(), headers={**ALICE_HTTP, "Content-Type": YAML}
    )
    assert as_yaml.status_code == 200 and as_yaml.json()["name"] == "greetings for the lab", as_yaml.text

    bad_cell = SAMPLESHEET.replace(f"{TEST_INPUTS}/s2_R1.fastq.gz", "s2 R1.txt")
    invalid = body(samplesheet_csv=bad_cell, params={"greeting": "hi", "times": 99})
    refused = await platform.http.post("/api/runs:validate", json=invalid, headers=ALICE_HTTP)
    assert refused.status_code == 400, refused.text
    found = violations(refused)
    assert "params.times" in found
    assert any(field.startswith("samplesheet") and "fastq_1" in field for field in found), found
    created = await platform.http.post("/api/runs", json=invalid, headers=ALICE_HTTP)
    assert created.status_code == 400 and violations(created) == found  # the same answer a create gives
    assert await stored(platform) == before


async def test_yaml_bodies_refuse_what_they_cannot_carry(platform: Running) -> None:
    laughs = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" if i else 'l0: &l0 "lol"\n' for i in range(10))
    cases = {
        laughs: "anchors",
        "- just\n- a list\n": "mapping",
        "pipeline: demo/hello\n---\npipeline: demo/hello\n": "single document",
        "1: one\n": "keys must be text",
        "pipeline: a\npipeline: b\n": "duplicate key",
        "pipeline: !!python/object/apply:os.system [echo]\n": "tag",
        "pipeline: [unclosed\n": "",
    }
    before = await stored(platform)
    for text, problem in cases.items():
        started = time.perf_counter()
        response = await platform.http.post(
            "/api/runs", content=text.encode(), headers={**ALICE_HTTP, "Content-Type": YAML}
        )
        assert time.perf_counter() - started < 2
        assert response.status_code == 400, (text, response.text)
        assert problem in violations(response)["body"], (text, response.text)
    # What parses is checked by the body's own model: the same located violations as JSON.
    mistyped = {**body(), "pipeline_version": 1.0, "params": {"greeting": None, "times": "x"}}
    typed = yaml.safe_dump(mistyped)
    from_yaml = await platform.http.post(
        "/api/runs", content=typed.encode(), headers={**ALICE_HTTP, "Content-Type": YAML}
    )
    assert from_yaml.status_code == 400 and "pipeline_version" in violations(from_yaml), from_yaml.text
    as_json = await platform.http.post(
        "/api/runs",
        json={**body(), "pipeline_version": 1.0, "params": {"greeting": None, "times": "x"}},
        headers=ALICE_HTTP,
    )
    assert violations(as_json) == violations(from_yaml)
    assert await stored(platform) == before


async def test_a_stranger_gets_404_and_an_admin_sees_the_launch(platform: Running, completed: dict[str, Any]) -> None:
    run_id = completed["run_id"]
    for response in (
        await platform.http.get(f"/api/runs/{run_id}/launch", headers=BOB_HTTP),
        await platform.http.get(f"/api/runs/{run_id}/launch", headers={**BOB_HTTP, "Accept": YAML}),
        await platform.http.post(f"/api/runs/{run_id}/relaunch", json={}, headers=BOB_HTTP),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert await launch(platform, run_id, headers=ADMIN_HTTP) == await launch(platform, run_id)


def _bad_request(error: grpc.aio.AioRpcError) -> set[str]:
    status = decode_status(error.trailing_metadata())
    assert status is not None
    fields: set[str] = set()
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            fields |= {v.field for v in request.field_violations}
    return fields


async def test_the_grpc_methods(platform: Running, completed: dict[str, Any]) -> None:
    alice, bob = email_metadata(ALICE), email_metadata("bob@example.com")
    run_id = completed["run_id"]
    got = await platform.runs.GetRunLaunch(runs_service_pb2.GetRunLaunchRequest(run_id=run_id), metadata=alice)
    assert (got.pipeline, got.name, dict(got.labels), got.samplesheet_csv) == (
        "demo/hello",
        "greetings for the lab",
        {"team": "onc", "purpose": "demo"},
        SAMPLESHEET,
    )
    with pytest.raises(grpc.aio.AioRpcError) as stranger:
        await platform.runs.GetRunLaunch(runs_service_pb2.GetRunLaunchRequest(run_id=run_id), metadata=bob)
    assert stranger.value.code() == grpc.StatusCode.NOT_FOUND

    relaunched = await platform.runs.RelaunchRun(
        runs_service_pb2.RelaunchRunRequest(run_id=run_id, override_params=to_struct({"greeting": "hey"})),
        metadata=alice,
    )
    assert relaunched.relaunched_from == run_id and not relaunched.is_recovery
    assert dict(relaunched.params) == {"greeting": "hey"}  # merge_params false: replaced
    assert relaunched.status in (run_pb2.Run.SUBMITTED, run_pb2.Run.RUNNING, run_pb2.Run.COMPLETED)

    request = runs_service_pb2.CreateRunRequest(
        pipeline=got.pipeline,
        pipeline_version=got.pipeline_version,
        samplesheet_csv=got.samplesheet_csv,
        params=got.params,
        source_project=got.source_project,
        request_id="ignored",
    )
    valid = await platform.runs.ValidateRun(runs_service_pb2.ValidateRunRequest(run=request), metadata=alice)
    assert (valid.sample_count, valid.name, list(valid.warnings)) == (2, "hello · 2 samples · ProjectX", [])
    request.params.update({"times": 0})
    request.labels["Bad Key"] = "x"
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await platform.runs.ValidateRun(runs_service_pb2.ValidateRunRequest(run=request), metadata=alice)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "labels.Bad Key" in _bad_request(invalid.value)
    await wait_terminal(platform, relaunched.run_id)


async def test_validate_warns_when_a_create_would_hit_a_limit(platform: Running, runs_service: Any) -> None:
    owner = "busy@example.com"
    for _ in range(runs_service.limits.max_active):
        await insert_run(runs_service, owner=owner, status=st.RUNNING)
    headers = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{owner}"}
    answer = await platform.http.post("/api/runs:validate", json=body(), headers=headers)
    assert answer.status_code == 200, answer.text
    (warning,) = answer.json()["warnings"]
    assert "active runs" in warning
    refused = await platform.http.post("/api/runs", json=body(), headers=headers)
    assert refused.status_code == 429


# --- the YAML reader and writer on their own (no platform) ---


@pytest.mark.parametrize(
    "value",
    [
        "sample,fastq_1\r\ns1,a.fq.gz\r\n",  # CRLF: written quoted, read back exactly
        "trailing spaces  \nline",
        "  indented first line\nsecond\n",
        "no final newline\nline",
        "2024-01-01",  # a date stays text
        "yes",
        "NO",
        "1.10",
        "~",
        "<<",
        "# not a comment",
        "émoji 🧬",
    ],
)
def test_yaml_writes_what_it_reads_back(value: str) -> None:
    document = {"samplesheet_csv": value, "params": {"v": value, "n": 3, "f": 0.5, "b": True, "z": None}}
    assert load_yaml_mapping(dump_yaml(document).encode()) == document


def test_yaml_limits_nesting_and_size() -> None:
    nested = b"params: " + b"[" * (MAX_YAML_DEPTH + 1) + b"]" * (MAX_YAML_DEPTH + 1)
    with pytest.raises(YamlRefused, match="nests deeper"):
        load_yaml_mapping(nested)
    started = time.perf_counter()
    with pytest.raises(YamlRefused, match="nodes"):
        load_yaml_mapping(b"params: [" + b"1," * (MAX_YAML_NODES + 1) + b"]")
    assert time.perf_counter() - started < 5
    many = {"samplesheet_csv": "sample,fastq_1\n" + "s,/data/s_R1.fastq.gz\n" * 200_000}  # ~4.5 MB, one node
    assert load_yaml_mapping(dump_yaml(many).encode()) == many
