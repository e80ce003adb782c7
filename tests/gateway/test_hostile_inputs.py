"""Inputs the OpenAPI fuzz (and probing past it) found turning into 5xx or a misleading 429: each is a 4xx now.

Over real HTTP on the embedded stack; every answer has the one error body and names what is wrong.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arc.runs.v1 import run_pb2, runs_service_pb2
from gateway.deps import MAX_IDENTITY_HEADER_CHARS
from gateway.errors import ErrorBody
from gateway.inputs import MAX_JSON_DEPTH, MAX_PATH_PARAM_CHARS, body_struct, json_problem
from services.runs import status as run_status
from tests.gateway.conftest import ALICE_HTTP
from tests.support.platform import Running
from tests.support.runs import insert_run

RUN_ID = "run-0bad0bad"
JSON = {**ALICE_HTTP, "Content-Type": "application/json"}
TOO_BIG = "99999999999999999999999"  # past int64


@pytest.fixture(scope="module", autouse=True)
async def finished_run(platform: Running) -> str:
    return await insert_run(
        platform.service("runs").store, status=run_status.COMPLETED, run_id=RUN_ID, gcs_path=f"runs/{RUN_ID}"
    )


def violation_fields(response: httpx.Response) -> list[str]:
    body = ErrorBody.model_validate(response.json())
    return [v["field"] for d in body.error.details for v in (d.model_extra or {}).get("field_violations", [])]


def assert_400_naming(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    assert field in violation_fields(response), response.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/runs?pipeline=a%00b", "pipeline"),  # was a 500: PostgreSQL refuses NUL in text
        ("/api/runs?user=a%00b", "user"),
        ("/api/benchling/runs?project=%00", "project"),  # was a 503: "Benchling warehouse unavailable"
        ("/api/benchling/runs?name_contains=x%00", "name_contains"),
        ("/api/benchling/runs/NGS%00/samples", "name"),
        ("/api/pipelines/nf-core/scrnaseq/schema?version=%00", "version"),
        (f"/api/runs/{RUN_ID}/tasks?process=%00", "process"),
        (f"/api/runs/{RUN_ID}/tasks/%00/logs", "task_id"),
        (f"/api/runs/{RUN_ID}/files/results/%00", "path"),
    ],
)
async def test_nul_in_a_query_or_path_parameter_is_a_400(platform: Running, path: str, field: str) -> None:
    assert_400_naming(await platform.http.get(path, headers=ALICE_HTTP), field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Lone surrogates: protobuf cannot encode them (was a 500).
        (b'{"pipeline": "\\ud800", "pipeline_version": "1.0.0", "samplesheet_csv": "a"}', "pipeline"),
        (
            b'{"pipeline": "demo/hello", "pipeline_version": "1.0.0", "samplesheet_csv": "a", '
            b'"params": {"x": ["\\udfff"]}}',
            "params",
        ),
        # NaN and Infinity: a protobuf Struct cannot carry them (was a 500).
        (
            b'{"pipeline": "demo/hello", "pipeline_version": "1.0.0", "samplesheet_csv": "a", "params": {"x": NaN}}',
            "params",
        ),
        (
            b'{"pipeline": "demo/hello", "pipeline_version": "1.0.0", "samplesheet_csv": "a", '
            b'"params": {"x": -Infinity}}',
            "params",
        ),
        # NUL in text and in keys: PostgreSQL stores neither.
        (b'{"pipeline": "demo/hello", "pipeline_version": "1.0.0", "samplesheet_csv": "a\\u0000b"}', "samplesheet_csv"),
        (
            b'{"pipeline": "demo/hello", "pipeline_version": "1.0.0", "samplesheet_csv": "a", '
            b'"params": {"\\u0000": 1}}',
            "params",
        ),
    ],
)
async def test_undeliverable_json_in_a_create_is_a_400(platform: Running, body: bytes, field: str) -> None:
    assert_400_naming(await platform.http.post("/api/runs", content=body, headers=JSON), field)


async def test_undeliverable_json_in_a_recovery_and_a_samplesheet_is_a_400(platform: Running) -> None:
    recover = await platform.http.post(
        f"/api/runs/{RUN_ID}/recover", content=b'{"override_params": {"a": {"b": NaN}}}', headers=JSON
    )
    assert_400_naming(recover, "override_params")
    assert "a.b" in recover.text
    notes = await platform.http.post(f"/api/runs/{RUN_ID}/recover", content=b'{"notes": "\\u0000"}', headers=JSON)
    assert_400_naming(notes, "notes")
    sheet = await platform.http.post(
        "/api/benchling/samplesheet", content=b'{"pipeline": "nf-core/scrnaseq", "ngs_runs": ["\\ud83d"]}', headers=JSON
    )
    assert_400_naming(sheet, "ngs_runs")


def create_body(params: str) -> bytes:
    """A create body around ``params``, JSON text (a hostile nesting is written out, not encoded)."""
    return (
        '{"pipeline": "demo/hello", "pipeline_version": "1.0.0", "samplesheet_csv": "a", "params": ' + params + "}"
    ).encode()


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 33, 60, 900])
async def test_json_nested_too_deep_is_a_400(platform: Running, depth: int) -> None:
    """Was a 500: past about 50 levels protobuf refuses the Struct (DecodeError), past a few hundred
    the conversion overflowed Python's stack (RecursionError)."""
    params = '{"greeting": ' + nested_arrays(depth) + "}"
    create = await platform.http.post("/api/runs", content=create_body(params), headers=JSON)
    assert_400_naming(create, "params")
    assert f"deeper than {MAX_JSON_DEPTH} levels" in create.text
    recover = await platform.http.post(
        f"/api/runs/{RUN_ID}/recover", content=b'{"override_params": ' + params.encode() + b"}", headers=JSON
    )
    assert_400_naming(recover, "override_params")
    assert f"deeper than {MAX_JSON_DEPTH} levels" in recover.text


@pytest.mark.parametrize("depth", [10, MAX_JSON_DEPTH - 1])
async def test_json_nested_within_the_limit_reaches_the_service(platform: Running, depth: int) -> None:
    """The `params` object and its arrays, ``MAX_JSON_DEPTH`` levels at most, pass the gateway: the
    Pipelines service answers (a string param given arrays is its 400, on `params.greeting`)."""
    create = await platform.http.post(
        "/api/runs", content=create_body('{"greeting": ' + nested_arrays(depth) + "}"), headers=JSON
    )
    assert "levels of objects" not in create.text
    assert_400_naming(create, "params.greeting")
    assert "params" not in violation_fields(create), create.text


def test_the_deepest_params_allowed_survive_every_message_that_carries_them() -> None:
    """``MAX_JSON_DEPTH`` objects (three protobuf messages each, the deepest JSON for protobuf) still decode
    inside a Run inside the responses that carry one."""
    params: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_JSON_DEPTH - 1):
        params = {"b": params}
    assert json_problem(params) is None and json_problem({"b": params}) is not None
    run = run_pb2.Run(params=body_struct("params", params))
    for message in (runs_service_pb2.ListRunsResponse(runs=[run]), runs_service_pb2.WatchRunResponse(status=run)):
        assert type(message).FromString(message.SerializeToString()) == message


async def test_a_number_a_struct_cannot_hold_is_a_400(platform: Running) -> None:
    """Was a 500: an integer past a double's range is an OverflowError in the protobuf Struct."""
    create = await platform.http.post("/api/runs", content=create_body('{"times": 1' + "0" * 400 + "}"), headers=JSON)
    assert_400_naming(create, "params")
    recover = await platform.http.post(
        f"/api/runs/{RUN_ID}/recover", content=b'{"override_params": {"times": 1' + b"0" * 400 + b"}}", headers=JSON
    )
    assert_400_naming(recover, "override_params")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/runs/{RUN_ID}/logs?offset={TOO_BIG}", "offset"),  # was a 500: protobuf's int64 ValueError
        (f"/api/runs/{RUN_ID}/logs/stream?offset={TOO_BIG}", "offset"),
        (f"/api/runs/{RUN_ID}/logs/stream?offset=-1", "offset"),
        (f"/api/runs/{RUN_ID}/events?after={TOO_BIG}", "after"),
        # A date that leaves the years 1 to 9999 once in UTC (was a 500: OverflowError).
        ("/api/benchling/runs?created_after=9999-12-31T23:59:59-14:00", "created_after"),
        ("/api/benchling/runs?created_before=0001-01-01T00:00:00%2B14:00", "created_before"),
    ],
)
async def test_out_of_range_numbers_and_dates_are_a_400(platform: Running, path: str, field: str) -> None:
    assert_400_naming(await platform.http.get(path, headers=ALICE_HTTP), field)


async def test_the_largest_offset_is_served(platform: Running) -> None:
    response = await platform.http.get(f"/api/runs/{RUN_ID}/logs?offset={2**63 - 1}", headers=ALICE_HTTP)
    assert response.status_code == 200, response.text
    assert response.json()["entries"] == []


@pytest.mark.parametrize("last_event_id", [TOO_BIG, f"-{TOO_BIG}", "garbage", "999"])
async def test_a_hostile_last_event_id_never_fails_a_stream(platform: Running, last_event_id: str) -> None:
    """A resume position is clamped (past int64 is past the end, garbage is the start), never a 500.

    The run is finished: its event stream ends with `done` even resumed past its last event (it used to
    wait forever for an event a finished run never sends). The log stream is only checked to start.
    """
    headers = {**ALICE_HTTP, "Last-Event-ID": last_event_id, "Accept": "application/x-ndjson"}
    async with platform.http.stream("GET", f"/api/runs/{RUN_ID}/events", headers=headers) as response:
        assert response.status_code == 200
        lines = [line async for line in response.aiter_lines() if line]
    assert '"event":"done"' in lines[-1], lines
    async with platform.http.stream("GET", f"/api/runs/{RUN_ID}/logs/stream", headers=headers) as response:
        assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Goog-Authenticated-User-Email": "accounts.google.com:\u00e9@example.com".encode()},  # was a 500
        {"X-Goog-Authenticated-User-Email": "a" * (MAX_IDENTITY_HEADER_CHARS + 1) + "@example.com"},  # was a 429
        {"X-Goog-IAP-JWT-Assertion": "x" * (MAX_IDENTITY_HEADER_CHARS + 1)},
    ],
)
async def test_an_identity_header_that_cannot_be_forwarded_is_a_401(platform: Running, headers: dict[str, Any]) -> None:
    response = await platform.http.get("/api/runs", headers=headers)
    assert response.status_code == 401, response.text
    assert ErrorBody.model_validate(response.json()).error.code == "UNAUTHENTICATED"


async def test_a_path_parameter_too_long_to_forward_is_a_400(platform: Running) -> None:
    """Was a 429: the service's NOT_FOUND quoted the path back, past gRPC's 16 KiB metadata limit."""
    long_path = "a/" * MAX_PATH_PARAM_CHARS
    assert_400_naming(await platform.http.get(f"/api/runs/{RUN_ID}/files/{long_path}", headers=ALICE_HTTP), "path")
    assert_400_naming(await platform.http.get(f"/api/pipelines/{long_path}", headers=ALICE_HTTP), "name")


async def test_an_error_quoting_a_long_input_is_not_a_429(platform: Running) -> None:
    """A service's error may quote an input back at any length: it reaches the caller as itself, not as
    RESOURCE_EXHAUSTED from the gRPC client's metadata limit (a 429 that says "retry later")."""
    version = await platform.http.get(
        "/api/pipelines/nf-core/scrnaseq/schema", params={"version": "v" * 20_000}, headers=ALICE_HTTP
    )
    assert version.status_code == 400, version.text[:300]
    sheet = await platform.http.post(
        "/api/benchling/samplesheet", json={"pipeline": "nf-core/scrnaseq", "ngs_runs": ["N" * 20_000]}, headers=JSON
    )
    assert sheet.status_code == 404, sheet.text[:300]
    create = await platform.http.post(
        "/api/runs",
        json={
            "pipeline": "demo/hello",
            "pipeline_version": "1.0.0",
            "samplesheet_csv": "a",
            "params": {"k" * 20_000: 1},
        },
        headers=JSON,
    )
    assert create.status_code == 400, create.text[:300]
