"""The OpenAPI document tells the real contract: every error a route can answer, with the error body.

Each router builds its routes with :class:`ErrorsDeclared`, which derives the error responses from the
route's kind instead of each route listing them:

* a route that calls a service (it depends on the stubs) can answer what the gRPC -> HTTP mapping gives
  for any call: 400 (bad input, wrong state), 401/403 (identity), 429 (a limit; ``Retry-After``), 503
  (a service down; retryable) and 504 (the call's deadline passed);
* with a path parameter or a request body it names a resource, so 404 too (missing, or not the caller's);
* a method that changes something (POST, PUT, PATCH, DELETE) can meet a concurrent change or a state that
  refuses it (``gateway.errors.REASON_HTTP_STATUS``): 409;
* a route that needs a run's files declares 410 itself (``responses=purged_responses()``): a purged run's
  files are gone for good (``RUN_PURGED``);
* with a request body, 413 (``gateway.body_limit``).

Request validation is answered as 400 (``gateway.errors``), never FastAPI's default 422, so the 422 FastAPI
adds to every route with parameters is taken out of the document, with its unused schemas; and errors are
JSON on every route, streams and downloads included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gateway.deps import stubs
from gateway.errors import ErrorBody

SERVICE_ERRORS = (400, 401, 403, 429, 503, 504)
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_DESCRIPTIONS = {
    400: "Invalid request: `BadRequest` details name each field at fault; also a request in the wrong state",
    401: "No caller identity, or one that does not verify",
    403: "The caller may not do this",
    404: "No such resource, or one the caller may not see",
    409: "The request conflicts with a concurrent change or the run's state (`RUN_ACTIVE`, `WORK_DIR_DELETED`…)",
    410: "The run was purged (`RUN_PURGED`): its files are deleted for good; its record and history stay",
    413: "The request body is over the limit",
    429: "A per-user limit or quota is reached; `Retry-After` says when to try again",
    503: "A backend service is unavailable; retry later",
    504: "A backend service did not answer in time",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _dependants(dependency)


def calls_a_service(route: APIRoute) -> bool:
    """True when the route depends on the gRPC stubs, so its errors come from a service."""
    return any(d.call is stubs for d in _dependants(route.dependant))


def error_statuses(route: APIRoute) -> list[int]:
    """The error statuses a route can really answer, from what it is (see the module docstring)."""
    if not calls_a_service(route):
        # Only request validation can fail: a route without inputs answers no error of its own.
        has_input = route.body_field is not None or any(
            d.path_params or d.query_params or d.header_params or d.cookie_params for d in _dependants(route.dependant)
        )
        return [400] if has_input else []
    statuses = set(SERVICE_ERRORS)
    if route.dependant.path_params or route.body_field is not None:
        statuses.add(404)
    if (route.methods or set()) & MUTATING_METHODS:
        statuses.add(409)
    if route.body_field is not None:
        statuses.add(413)
    return sorted(statuses)


def error_response(status: int) -> dict[str, Any]:
    """One status's entry for a route's ``responses``: the error body and what the status means."""
    response: dict[str, Any] = {
        "model": ErrorBody,
        "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def purged_responses() -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that needs a run's files: 410 once the run is purged."""
    return {410: error_response(410)}


class ErrorsDeclared(APIRoute):
    """An ``APIRoute`` that declares the error responses its kind can answer (a route's own win)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        declared = self.responses
        missing: dict[int | str, dict[str, Any]] = {
            status: error_response(status) for status in error_statuses(self) if status not in declared
        }
        if missing:
            # Built again with the full `responses`: FastAPI derives the response models from them as it builds.
            super().__init__(path, endpoint, **{**kwargs, "responses": {**missing, **declared}})


def install(app: FastAPI) -> None:
    """Serve the document without FastAPI's 422 (request validation is a 400 here) and its schemas, and with
    every error as JSON."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                responses.pop("422", None)
                for status, response in responses.items():
                    content = response.get("content", {})
                    if status.isdigit() and int(status) >= 400 and content and "application/json" not in content:
                        # FastAPI files an error's model under the route's success media type (a stream's
                        # `text/event-stream`): every error is JSON.
                        response["content"] = {"application/json": next(iter(content.values()))}
                    elif status.startswith("2"):
                        for media in content.values():
                            schema = media.get("schema", {})
                            if "itemSchema" in media and "$ref" in schema and schema.get("type") == "string":
                                # A stream's record model, which FastAPI files over the body's own schema
                                # (`gateway.streams.stream_responses`): it describes one item, not the body.
                                del schema["$ref"]
        schemas = document.get("components", {}).get("schemas", {})
        for name in _UNUSED_SCHEMAS:
            schemas.pop(name, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
