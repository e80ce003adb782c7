"""Server-streaming RPCs as Server-Sent Events or newline-delimited JSON.

Each item carries its position as the SSE ``id:`` so a browser's automatic reconnect (which sends
``Last-Event-ID``) resumes without gap or duplicate. A comment line keeps idle connections open,
and the stream always ends with an explicit final event (``done``, or ``error`` if the RPC failed).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import quote

import grpc
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from gateway.errors import rpc_error_response

KEEPALIVE_SECONDS = 15
NDJSON = "application/x-ndjson"


class EventStream(Response):
    """For the document only: the route answers Server-Sent Events, or NDJSON on request."""

    media_type = "text/event-stream"


class ZipDownload(Response):
    """For the document only: the route answers a zip attachment."""

    media_type = "application/zip"


class FileDownload(Response):
    """For the document only: the route answers a file's bytes as an attachment."""

    media_type = "application/octet-stream"


_TEXT = {"type": "string"}
_REF = "#/components/schemas/"


def stream_responses(record: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """What a stream route answers on success (its errors come before the stream starts, as JSON).

    The body as a whole is text; ``itemSchema`` (as FastAPI's own streams declare it, from OpenAPI 3.2)
    describes one item: an SSE event whose ``data:`` is the JSON of ``record``'s ``data``, or an NDJSON line
    that is a ``record``. ``record`` has ``event`` (a ``Literal``), ``data`` (a ``RootModel``) and ``id``.
    """
    data = record.model_fields["data"].annotation
    assert isinstance(data, type) and issubclass(data, BaseModel), record
    event = {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": list(get_args(record.model_fields["event"].annotation))},
            "id": {"type": "string", "description": "the position to resume from, sent back as `Last-Event-ID`"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": _REF + data.__name__},
            },
            "retry": {"type": "integer", "minimum": 0},
        },
    }
    return {
        200: {
            # Registers the record (and its data) in the document's schemas; `gateway.openapi` keeps it out of
            # the body's own `schema`.
            "model": record,
            "description": "Server-Sent Events (a `: ping` comment every 15 s keeps the connection open); "
            "newline-delimited JSON when the request accepts `application/x-ndjson`. The last event is `done`, "
            "or `error` with the error body when the stream fails after it started.",
            "content": {
                "text/event-stream": {"schema": _TEXT, "itemSchema": event},
                NDJSON: {"schema": _TEXT, "itemSchema": {"$ref": _REF + record.__name__}},
            },
        }
    }


def download_responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """What a download route answers on success: bytes of ``media_type`` as an attachment."""
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    }


@dataclass(frozen=True)
class StreamItem:
    event: str
    data: dict[str, Any]
    id: str | None = None


def resume_position(request: Request, query_value: str | None = None) -> str | None:
    """Where to resume: ``Last-Event-ID`` (browser reconnect) wins over an explicit query value."""
    return request.headers.get("last-event-id") or query_value


def wants_ndjson(request: Request) -> bool:
    return NDJSON in request.headers.get("accept", "")


async def _with_final(items: AsyncIterator[StreamItem], done: dict[str, Any]) -> AsyncIterator[StreamItem]:
    try:
        async for item in items:
            yield item
    except grpc.aio.AioRpcError as exc:
        body = json.loads(bytes(rpc_error_response(exc).body))
        yield StreamItem(event="error", data=body)
        return
    yield StreamItem(event="done", data=done)


def stream_response(request: Request, items: AsyncIterator[StreamItem], *, done: dict[str, Any]) -> Any:
    """SSE by default; NDJSON when the client asks for ``application/x-ndjson``."""
    framed = _with_final(items, done)
    if wants_ndjson(request):

        async def lines() -> AsyncIterator[bytes]:
            async for item in framed:
                record = {"event": item.event, "data": item.data}
                if item.id is not None:
                    record["id"] = item.id
                yield (json.dumps(record, separators=(",", ":")) + "\n").encode()

        return StreamingResponse(lines(), media_type=NDJSON, headers={"Cache-Control": "no-cache"})

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for item in framed:
            yield ServerSentEvent(data=json.dumps(item.data, separators=(",", ":")), event=item.event, id=item.id)

    return EventSourceResponse(
        events(),
        ping=KEEPALIVE_SECONDS,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def download_response(
    call: Any, *, empty: Any, media_type: str, headers: Callable[[Any], dict[str, str]]
) -> StreamingResponse:
    """A server stream of byte chunks (messages with ``data``) as a download.

    The first chunk is read before answering, so an error (a missing file, someone else's run) is a
    real HTTP error and not a broken download; ``headers`` builds the headers from that first chunk.
    """
    first = await call.read()
    if first is grpc.aio.EOF:  # the services always send one chunk; be safe anyway
        first = empty

    async def body() -> AsyncIterator[bytes]:
        chunk = first
        try:
            while chunk is not grpc.aio.EOF:
                if chunk.data:
                    yield chunk.data
                chunk = await call.read()
        finally:
            call.cancel()

    return StreamingResponse(body(), media_type=media_type, headers=headers(first))


def attachment(filename: str) -> str:
    """A Content-Disposition for ``filename``, safe whatever characters it has (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
