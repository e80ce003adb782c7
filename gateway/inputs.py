"""Inputs that no route can pass on are a 400 here, before a service sees them (found by the OpenAPI fuzz).

* A NUL character in any text (query, path, body): PostgreSQL stores neither text nor JSON with one, so it
  would fail deep inside a service as a 500 (or a 503 from the warehouse).
* A lone UTF-16 surrogate (JSON allows the escape ``"\\ud800"``): protobuf cannot encode it (a 500).
* ``NaN`` and ``Infinity`` in JSON (Python's parser accepts them): ``google.protobuf.Struct`` cannot carry them.
* A path parameter over 4096 characters: no run, task, file or pipeline name is that long, and a service's
  error quotes it back (an answer that, past the gRPC client's metadata limit, would fail as a 429).
* A date and time outside what a ``google.protobuf.Timestamp`` holds once in UTC (year 1 to 9999).
* JSON nested deeper than :data:`MAX_JSON_DEPTH` objects and arrays: protobuf refuses a ``Struct`` past its
  nesting limit (a few dozen levels: a 500), and a few hundred levels overflowed Python's stack (a 500 too).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError
from pydantic import AfterValidator, BaseModel, field_validator

from arc_core.contracts.limits import MAX_JSON_DEPTH
from arc_core.contracts.names import RUN_ID_PATTERN
from arc_core.protos import to_struct

MAX_PATH_PARAM_CHARS = 4096


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot reach a service, or None."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain an unpaired UTF-16 surrogate"
    return None


def json_problem(value: Any, where: str = "", depth: int = 0) -> str | None:
    """The first problem in a decoded JSON value (keys included), located as ``a.b[2]``, or None.

    ``depth`` is how many objects and arrays hold ``value``: past :data:`MAX_JSON_DEPTH` it is refused
    before going deeper, so the check itself never recurses far.
    """
    if isinstance(value, dict | list | tuple):
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return f"{where + ': ' if where else ''}nests deeper than {MAX_JSON_DEPTH} levels of objects and arrays"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{where + ': ' if where else ''}{problem}" if problem else None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where + ': ' if where else ''}must be a finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            problem = text_problem(str(key))
            if problem:
                return f"key {here!r}: {problem}"
            problem = json_problem(item, here, depth)
            if problem:
                return problem
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = json_problem(item, f"{where}[{index}]", depth)
            if problem:
                return problem
    return None


class RequestBody(BaseModel):
    """Base of every JSON request body: each field is checked with :func:`json_problem`."""

    @field_validator("*", mode="after")
    @classmethod
    def _deliverable(cls, value: Any) -> Any:
        problem = json_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def body_struct(field: str, value: dict[str, Any]) -> struct_pb2.Struct:
    """``value`` (a body field already checked with :func:`json_problem`) as a ``google.protobuf.Struct``.

    What protobuf still cannot carry (an integer past a double's range, say) is a 400 naming ``field``,
    never a 500. The Struct is encoded and decoded once, as the service will, so a nesting protobuf refuses
    fails here too.
    """
    try:
        return struct_pb2.Struct.FromString(to_struct(value).SerializeToString())
    except (ValueError, TypeError, OverflowError, RecursionError, DecodeError) as exc:
        problem = f"cannot be sent as a protobuf Struct: {exc}"
        raise RequestValidationError([{"loc": ("body", field), "msg": problem, "type": "value_error"}]) from None


async def refuse_undeliverable(request: Request) -> None:
    """An app-wide dependency: a NUL in a query or path parameter (or a path parameter too long to forward)
    is a 400 naming the parameter.

    (Starlette decodes the URL with replacement characters, so only NUL can get through from there.)
    """
    errors = [
        {"loc": ("query", name), "msg": problem, "type": "value_error"}
        for name, value in request.query_params.multi_items()
        if (problem := text_problem(name) or text_problem(value))
    ]
    errors += [
        {"loc": ("path", name), "msg": problem, "type": "value_error"}
        for name, value in request.path_params.items()
        if isinstance(value, str) and (problem := _path_problem(value))
    ]
    if errors:
        raise RequestValidationError(errors)


def _path_problem(value: str) -> str | None:
    if len(value) > MAX_PATH_PARAM_CHARS:
        return f"is longer than {MAX_PATH_PARAM_CHARS} characters"
    return text_problem(value)


def _timestamp_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC) if value.tzinfo is not None else value
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once in UTC") from None
    return utc


# A run id as the services check it; declared for the document only, so the services' own error (the same
# BadRequest on `run_id`) stays the one answer.
RunId = Annotated[
    str,
    Path(
        description="`run-` and 8 lower-case hex digits",
        json_schema_extra={"pattern": RUN_ID_PATTERN},
        examples=["run-0a1b2c3d"],
    ),
]

# A query parameter that becomes a google.protobuf.Timestamp.
Instant = Annotated[datetime, AfterValidator(_timestamp_range)]
