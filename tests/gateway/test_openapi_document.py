"""The OpenAPI document the gateway serves declares every error a route answers, with the real error body."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.body_limit import MAX_BODY_BYTES
from gateway.errors import ErrorBody
from tests.gateway.conftest import ALICE_HTTP
from tests.support.platform import Running

# Every route that calls a service can meet these, whatever it is.
SERVICE_ERRORS = {"400", "401", "403", "429", "503", "504"}
ERROR_REF = "#/components/schemas/ErrorBody"


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
