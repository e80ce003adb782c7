"""gRPC status -> HTTP error body, in one exception handler.

Body: ``{"error": {"code": "INVALID_ARGUMENT", "message": "...", "details": [...]}}`` with the HTTP
status Google documents for each ``google.rpc.Code``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from arc_core.grpc_errors import decode_status

log = logging.getLogger(__name__)

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


# A FAILED_PRECONDITION whose ``ErrorInfo.reason`` says more than "wrong state" (400) gets the status that
# says it: 409 when the run's state conflicts with the request and waiting or another request settles it
# (the run is still active; its work dir is gone, so recover from scratch), 410 when what the request needs
# is gone for good (a purged run's files).
REASON_HTTP_STATUS = {
    "RUN_ACTIVE": 409,
    "WORK_DIR_IN_USE": 409,
    "WORK_DIR_DELETED": 409,
    "RUN_PURGED": 410,
}
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def http_status_of(code: grpc.StatusCode, details: list[dict[str, Any]]) -> int:
    """The HTTP status of a gRPC error: by its code, or by its reason for the reasons above."""
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        for detail in details:
            if detail.get("@type") == _ERROR_INFO and detail.get("reason") in REASON_HTTP_STATUS:
                return REASON_HTTP_STATUS[detail["reason"]]
    return HTTP_STATUS.get(code, 500)


# The framework's own errors (no route for a path, a method a path does not serve) in the same body.
_HTTP_CODES = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


class ErrorDetail(BaseModel):
    """One ``google.rpc`` detail as proto3 JSON (``BadRequest``, ``ErrorInfo``, ``RetryInfo``...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        alias="@type",
        description="the detail's type URL, e.g. `type.googleapis.com/google.rpc.BadRequest`",
    )


class ErrorStatus(BaseModel):
    code: str = Field(description="the gRPC status name (`INVALID_ARGUMENT`, `NOT_FOUND`...) or `PAYLOAD_TOO_LARGE`")
    message: str
    details: list[ErrorDetail] = Field(description="machine-readable details; `[]` when there are none")


class ErrorBody(BaseModel):
    """Every error the gateway answers has this body, whatever its HTTP status."""

    error: ErrorStatus


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def rpc_error_response(exc: grpc.aio.AioRpcError) -> JSONResponse:
    details: list[dict] = []
    status = decode_status(exc.trailing_metadata())
    if status is not None:
        details = [json_format.MessageToDict(d, preserving_proto_field_name=True) for d in status.details]
    code = exc.code()
    http_status = http_status_of(code, details)
    message = exc.details() or code.name
    if http_status == 500:
        log.error("backend error %s: %s", code.name, message)
        message = "internal error"
    elif code == grpc.StatusCode.UNAVAILABLE and "failed to connect" in message.lower():
        message = "a backend service is unavailable; try again shortly"
    headers = {}
    retry = next((d for d in details if d.get("@type", "").endswith("google.rpc.RetryInfo")), None)
    if retry is not None:
        seconds = float(str(retry.get("retry_delay", "0s")).rstrip("s") or 0)
        headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    return JSONResponse(error_body(code.name, message, details), status_code=http_status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(_request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        return rpc_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        violations = [
            {
                # Named as the services name fields: `page_size`, not `query.page_size`.
                "field": ".".join(str(p) for p in err["loc"][1:] if p != "body")
                if err["loc"] and err["loc"][0] in ("query", "path", "header", "body")
                else ".".join(str(p) for p in err["loc"]),
                "description": err["msg"],
            }
            for err in exc.errors()
        ]
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "field_violations": violations}]
        return JSONResponse(error_body("INVALID_ARGUMENT", "invalid request", details), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """No route for the path, or a method the path does not serve: the same body as every other error."""
        code = _HTTP_CODES.get(exc.status_code, "INVALID_ARGUMENT" if exc.status_code < 500 else "INTERNAL")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)
