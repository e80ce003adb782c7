"""The OpenAPI document the gateway serves declares every error a route answers, with the real error body, and
every success body: a response model, or a stream's media types with the model of its events."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from arc_core.contracts import run_status
from gateway.body_limit import MAX_BODY_BYTES
from gateway.errors import ErrorBody
from gateway.models.logs import (
    LogBatch,
    LogStreamDone,
    TaskLogEvent,
    TaskLogStreamDone,
    TaskOutput,
    WorkflowLogEvent,
)
from gateway.models.runs import Run, RunEvent, RunProgress, WatchDone
from tests.gateway.conftest import ALICE_HTTP
from tests.support.platform import Running
from tests.support.runs import insert_run

# Every route that calls a service can meet these, whatever it is.
SERVICE_ERRORS = {"400", "401", "403", "429", "503", "504"}
ERROR_REF = "#/components/schemas/ErrorBody"
STREAM_RUN = "run-d0c5d0c5"
LOG_FIXTURES = Path(__file__).resolve().parents[1] / "logs" / "fixtures"


@pytest.fixture(scope="module")
async def document(platform: Running) -> dict[str, Any]:
    response = await platform.http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


async def test_every_service_route_declares_the_service_errors(document: dict[str, Any]) -> None:
    checked = 0
    for method, path, op in operations(document):
        if path.startswith("/api/health"):
            continue
        checked += 1
        declared = set(op["responses"])
        assert SERVICE_ERRORS <= declared, (method, path, sorted(declared))
        if "{" in path or "requestBody" in op:
            assert "404" in declared, (method, path)
        if "requestBody" in op:
            assert "413" in declared, (method, path)
        if method in ("POST", "DELETE"):
            assert "409" in declared, (method, path)
        for status in ("429", "503"):
            assert "Retry-After" in op["responses"][status]["headers"], (method, path, status)
    assert checked >= 20


async def test_every_error_response_has_the_error_body_schema(document: dict[str, Any]) -> None:
    for method, path, op in operations(document):
        if path == "/api/health/ready":
            continue  # its 503 is the readiness report, checked below
        for status, response in op["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (method, path, status)
                assert response["description"], (method, path, status)


async def test_no_422_and_no_validation_error_schemas(document: dict[str, Any]) -> None:
    for method, path, op in operations(document):
        assert "422" not in op["responses"], (method, path)
    assert "HTTPValidationError" not in json.dumps(document)
    assert "ValidationError" not in document["components"]["schemas"]


async def test_health_routes(document: dict[str, Any]) -> None:
    assert set(document["paths"]["/api/health"]["get"]["responses"]) == {"200"}
    ready = document["paths"]["/api/health/ready"]["get"]["responses"]
    assert set(ready) == {"200", "503"}
    assert ready["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Readiness"}


async def test_error_schema_is_the_model(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorStatus"]["required"]) == {"code", "message", "details"}
    assert schemas["ErrorDetail"]["required"] == ["@type"]


async def test_real_error_bodies_match_the_declared_model(platform: Running) -> None:
    """Each way the gateway answers an error (service error, validation, body limit, no route) fits ErrorBody."""
    not_found = await platform.http.get("/api/runs/run-00000000", headers=ALICE_HTTP)
    invalid = await platform.http.get("/api/runs", params={"page_size": "-1"}, headers=ALICE_HTTP)
    bad_json = await platform.http.post(
        "/api/runs", content=b"{not json", headers={**ALICE_HTTP, "Content-Type": "application/json"}
    )
    # Dev identity: no header is the dev user, a header that is not an email is refused.
    anonymous = await platform.http.get("/api/runs", headers={"X-Goog-Authenticated-User-Email": "nobody"})
    too_large = await platform.http.post(
        "/api/runs", content=b" " * (MAX_BODY_BYTES + 1), headers={**ALICE_HTTP, "Content-Type": "application/json"}
    )
    no_route = await platform.http.get("/api/nothing-here", headers=ALICE_HTTP)
    wrong_method = await platform.http.put("/api/runs", headers=ALICE_HTTP)
    answers = {
        404: not_found,
        400: invalid,
        401: anonymous,
        413: too_large,
    }
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
    assert bad_json.status_code == 400, bad_json.text
    assert no_route.status_code == 404 and wrong_method.status_code == 405
    for response in [*answers.values(), bad_json, no_route, wrong_method]:
        body = ErrorBody.model_validate(response.json())
        assert body.error.code and body.error.message
    violations = ErrorBody.model_validate(invalid.json()).error.details[0].model_dump(by_alias=True)
    assert violations["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert violations["field_violations"][0]["field"] == "page_size"
    assert no_route.json()["error"]["code"] == "NOT_FOUND"
    assert wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def _integer_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "integer"]


async def test_every_integer_parameter_is_bounded(document: dict[str, Any]) -> None:
    """An unbounded integer reaches a protobuf int32/int64 field and fails there as a 500 (it did: `offset`
    on the workflow log); bounded, an out-of-range one is a 400 and the fuzz tries past each bound."""
    seen = 0
    for method, path, op in operations(document):
        for parameter in op.get("parameters", []):
            for schema in _integer_schemas(parameter["schema"]):
                seen += 1
                assert "minimum" in schema and "maximum" in schema, (method, path, parameter["name"])
                assert schema["maximum"] <= 2**63 - 1, (method, path, parameter["name"])
    assert seen >= 10


async def test_streams_and_downloads_declare_what_they_answer(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in (
        "/api/runs/{run_id}/events",
        "/api/runs/{run_id}/logs/stream",
        "/api/runs/{run_id}/tasks/{task_id}/logs/stream",
    ):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"text/event-stream", "application/x-ndjson"}
    assert set(paths["/api/runs/{run_id}/logs/download"]["get"]["responses"]["200"]["content"]) == {"application/zip"}
    assert set(paths["/api/runs/{run_id}/files/{path}"]["get"]["responses"]["200"]["content"]) == {
        "application/octet-stream"
    }


STREAM_MEDIA = {"text/event-stream", "application/x-ndjson"}
DOWNLOAD_MEDIA = {"application/zip", "application/octet-stream"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _typed(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object with named properties (`$ref`s resolved), or a union of them: never `{}` nor a bare dict."""
    resolved = _resolve(document, schema)
    if "anyOf" in resolved:
        return all(_typed(document, s) for s in resolved["anyOf"])
    return resolved.get("type") == "object" and bool(resolved.get("properties"))


async def test_every_operation_declares_its_success_body(document: dict[str, Any]) -> None:
    """JSON routes name their response model; streams and downloads their media types, streams the schema of
    each event; no route answers a bare untyped `{}` (what a route without a model documents)."""
    kinds: dict[str, int] = {"json": 0, "stream": 0, "download": 0}
    for method, path, op in operations(document):
        success = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        assert len(success) == 1, (method, path, sorted(success))
        ((status, response),) = success.items()
        content = response["content"]
        assert response["description"], (method, path)
        if "application/json" in content:
            kinds["json"] += 1
            schema = content["application/json"]["schema"]
            # A launch document is one format, JSON or YAML (`Accept`): the same schema for both.
            assert set(content) in ({"application/json"}, {"application/json", "application/yaml"}), (method, path)
            assert content.get("application/yaml", {"schema": schema})["schema"] == schema, (method, path)
            assert "$ref" in schema or "anyOf" in schema, (method, path, schema)
            assert _typed(document, schema), (method, path, schema)
        elif set(content) == STREAM_MEDIA:
            kinds["stream"] += 1
            for media in content.values():
                assert media["schema"] == {"type": "string"}, (method, path)
            record = _resolve(document, content["application/x-ndjson"]["itemSchema"])
            assert set(record["required"]) == {"event", "data"}, (method, path)
            event = content["text/event-stream"]["itemSchema"]
            assert event["properties"]["event"]["enum"] == record["properties"]["event"]["enum"], (method, path)
            data = event["properties"]["data"]
            assert data["contentMediaType"] == "application/json", (method, path)
            assert _typed(document, data["contentSchema"]) and data["contentSchema"] == record["properties"]["data"]
        else:
            kinds["download"] += 1
            ((media, body),) = content.items()
            assert media in DOWNLOAD_MEDIA, (method, path, media)
            assert body["schema"] == {"type": "string", "format": "binary"}, (method, path)
    assert kinds == {"json": 27, "stream": 3, "download": 2}, kinds  # 18 + the 9 routes of the lifecycle issue


async def test_every_response_schema_resolves(document: dict[str, Any]) -> None:
    """Every `$ref` in the document names one of its schemas, and every schema is used."""
    text = json.dumps(document)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs == set(document["components"]["schemas"]), sorted(refs ^ set(document["components"]["schemas"]))


async def test_stream_events_fit_their_models(platform: Running) -> None:
    """A finished run's three streams, as NDJSON and as SSE: each event is its route's record model, with the
    data its `event` names, and the last one is `done` (or `error`: the task's work dir is not there)."""
    run_id = await insert_run(
        platform.service("runs").store, status=run_status.COMPLETED, run_id=STREAM_RUN, gcs_path=f"runs/{STREAM_RUN}"
    )
    storage = platform.service("logs").storage
    for name, fixture in (("nextflow.log", "nextflow.log"), ("trace.txt", "trace_default.txt")):
        await storage.write_bytes(f"runs/{run_id}/logs/{name}", (LOG_FIXTURES / fixture).read_bytes())
    streams: list[tuple[str, type[BaseModel], dict[str, type[BaseModel]], list[str]]] = [
        (
            f"/api/runs/{run_id}/events",
            RunEvent,
            {"status": Run, "progress": RunProgress, "done": WatchDone, "error": ErrorBody},
            ["status", "done"],
        ),
        (
            f"/api/runs/{run_id}/logs/stream",
            WorkflowLogEvent,
            {"entries": LogBatch, "done": LogStreamDone, "error": ErrorBody},
            ["entries", "done"],
        ),
        (
            f"/api/runs/{run_id}/tasks/1/logs/stream",
            TaskLogEvent,
            {"output": TaskOutput, "done": TaskLogStreamDone, "error": ErrorBody},
            ["error"],
        ),
    ]
    for path, record, data_of, kinds in streams:
        ndjson = await platform.http.get(path, headers={**ALICE_HTTP, "Accept": "application/x-ndjson"})
        assert ndjson.status_code == 200, (path, ndjson.text)
        records = [record.model_validate_json(line) for line in ndjson.text.splitlines()]
        sse = await platform.http.get(path, headers=ALICE_HTTP)
        assert sse.status_code == 200, (path, sse.text)
        events = [
            record.model_validate({"event": e["event"], "data": json.loads(e["data"]), "id": e.get("id")})
            for e in _sse_events(sse.text)
        ]
        for event in [*records, *events]:
            assert isinstance(event.data.root, data_of[event.event]), (path, event)  # type: ignore[attr-defined]
        assert [r.event for r in records] == [e.event for e in events], path
        assert sorted(set(r.event for r in records)) == sorted(kinds), (path, records)
        assert records[-1].event == kinds[-1], (path, records[-1])


def _sse_events(text: str) -> list[dict[str, str]]:
    """The events of an SSE body (comments and pings skipped); one `data:` line each, as the gateway writes."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "data" in fields:
            events.append(fields)
    return events
