"""A local gRPC server speaking ``google.logging.v2.LoggingServiceV2`` (ListLogEntries, TailLogEntries).

It records every request (so tests assert the exact filter the real client sent) and serves the entries it
is given. It understands the subset of the Logging query language a conjunction of simple clauses needs:
``field="value"`` / ``field>=value`` comparisons on ``logName``, ``resource.type``, ``labels.KEY`` (quoted
keys too), ``severity``, ``insertId`` and ``timestamp``, joined by ``AND``, with parenthesised ``OR`` groups.
Anything else is refused with INVALID_ARGUMENT, like the real service refuses a bad filter. Results are
ordered by ``order_by`` (timestamp, then insertId) and paged with ``page_size`` / ``page_token``.

Usage::

    async with fake_logging() as fake:
        fake.add_task_line("hello", uid="nf-1", run_id="run-1a2b3c4d", ...)
        client = fake.client()  # the real LoggingServiceV2AsyncClient on an insecure channel
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from google.auth.credentials import AnonymousCredentials
from google.cloud.logging_v2 import types
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2AsyncClient
from google.cloud.logging_v2.services.logging_service_v2.transports.grpc_asyncio import (
    LoggingServiceV2GrpcAsyncIOTransport,
)
from google.protobuf import timestamp_pb2

SERVICE = "google.logging.v2.LoggingServiceV2"
SEVERITIES = {"DEFAULT": 0, "DEBUG": 100, "INFO": 200, "NOTICE": 300, "WARNING": 400, "ERROR": 500, "CRITICAL": 600}
_CLAUSE = re.compile(
    r'^(?P<field>[A-Za-z_.]+(?:"[^"]+")?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>"(?:[^"\\]|\\.)*"|\S+)$'
)


def _unquote(value: str) -> str:
    if value.startswith('"') and value.endswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _split(text: str, sep: str) -> list[str]:
    """Split on `` sep `` outside quotes and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    token = f" {sep} "
    while i < len(text):
        ch = text[i]
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(token, i):
            parts.append(text[start:i])
            i += len(token)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _field_value(entry: types.LogEntry, name: str) -> Any:
    pb = types.LogEntry.pb(entry)
    if name == "logName":
        return pb.log_name
    if name == "resource.type":
        return pb.resource.type
    if name == "severity":
        return pb.severity
    if name == "insertId":
        return pb.insert_id
    if name == "timestamp":
        return pb.timestamp.ToNanoseconds()
    if name.startswith("labels."):
        key = _unquote(name[len("labels.") :])
        return pb.labels.get(key)
    raise ValueError(f"unsupported field {name!r}")


def _compile(filter_: str) -> Callable[[types.LogEntry], bool]:
    """A predicate for the supported subset of the query language; ValueError otherwise."""
    if not filter_.strip():
        return lambda _e: True
    conjuncts = []
    for part in _split(filter_, "AND"):
        if part.startswith("(") and part.endswith(")"):
            options = [_compile(o) for o in _split(part[1:-1], "OR")]
            conjuncts.append(lambda e, options=options: any(o(e) for o in options))
            continue
        m = _CLAUSE.match(part)
        if m is None:
            raise ValueError(f"unsupported clause {part!r}")
        name, op, raw = m.group("field"), m.group("op"), _unquote(m.group("value"))
        if name == "timestamp":
            stamp = timestamp_pb2.Timestamp()
            stamp.FromJsonString(raw)
            value: Any = stamp.ToNanoseconds()
        elif name == "severity":
            value = SEVERITIES.get(raw, None)
            if value is None:
                raise ValueError(f"unknown severity {raw!r}")
        else:
            value = raw
        _field_value(types.LogEntry(), name)  # validates the field name
        ops = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            ">=": lambda a, b: a is not None and a >= b,
            "<=": lambda a, b: a is not None and a <= b,
            ">": lambda a, b: a is not None and a > b,
            "<": lambda a, b: a is not None and a < b,
        }
        conjuncts.append(lambda e, name=name, fn=ops[op], value=value: fn(_field_value(e, name), value))
    return lambda e: all(c(e) for c in conjuncts)


@dataclass
class FakeLogging:
    """The running fake: its address, the entries it serves, the requests it received."""

    address: str
    project: str = "test-project"
    entries: list[types.LogEntry] = field(default_factory=list)
    list_requests: list[types.ListLogEntriesRequest] = field(default_factory=list)
    tail_requests: list[types.TailLogEntriesRequest] = field(default_factory=list)
    fail_with: list[grpc.StatusCode] = field(default_factory=list)
    """Codes the next ListLogEntries calls fail with, one per call."""
    _added: asyncio.Event = field(default_factory=asyncio.Event)
    _sequence: int = 0

    @property
    def filters(self) -> list[str]:
        return [r.filter for r in self.list_requests]

    def client(self) -> LoggingServiceV2AsyncClient:
        """The real async client, talking plain-text gRPC to this server (create it inside the loop)."""
        return LoggingServiceV2AsyncClient(
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.address},
            transport=lambda host=self.address, **_: LoggingServiceV2GrpcAsyncIOTransport(
                channel=grpc.aio.insecure_channel(host), host=host
            ),
        )

    def add(self, entry: types.LogEntry) -> types.LogEntry:
        if not entry.insert_id:
            self._sequence += 1
            entry.insert_id = f"i{self._sequence:08d}"
        self.entries.append(entry)
        self._added.set()
        return entry

    def add_task_line(
        self,
        text: str,
        *,
        uid: str,
        task_index: str = "0",
        run_id: str | None,
        at: datetime,
        severity: str = "INFO",
        insert_id: str = "",
    ) -> types.LogEntry:
        """One line of a Batch task's output, labelled the way Batch (and the platform's resourceLabels) do."""
        labels = {"job_uid": uid, "task_id": f"{uid}-group0-{task_index}", "task_group_name": "group0"}
        if run_id:
            labels.update({"run-id": run_id, "app": "arc-reactor"})
        return self.add(
            types.LogEntry(
                log_name=f"projects/{self.project}/logs/batch_task_logs",
                resource={"type": "generic_task", "labels": {"project_id": self.project, "job": uid}},
                text_payload=text,
                timestamp=at.astimezone(UTC),
                severity=SEVERITIES[severity],
                labels=labels,
                insert_id=insert_id,
            )
        )

    def _matching(self, filter_: str, order_by: str) -> list[types.LogEntry]:
        predicate = _compile(filter_)
        found = [e for e in self.entries if predicate(e)]

        def key(e: types.LogEntry) -> tuple[int, str]:
            pb = types.LogEntry.pb(e)
            return pb.timestamp.ToNanoseconds(), pb.insert_id

        found.sort(key=key, reverse=order_by.strip().lower() == "timestamp desc")
        return found

    async def _list(self, request: types.ListLogEntriesRequest, context: grpc.aio.ServicerContext) -> Any:
        self.list_requests.append(request)
        if self.fail_with:
            await context.abort(self.fail_with.pop(0), "injected failure")
        if request.order_by not in ("", "timestamp asc", "timestamp desc"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad order_by {request.order_by!r}")
        try:
            found = self._matching(request.filter, request.order_by)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid filter: {exc}")
        start = int(request.page_token or 0)
        size = request.page_size or 50
        page = found[start : start + size]
        token = str(start + size) if start + size < len(found) else ""
        return types.ListLogEntriesResponse(entries=page, next_page_token=token)

    async def _tail(self, requests: AsyncIterator[types.TailLogEntriesRequest], context: Any) -> AsyncIterator[Any]:
        async for request in requests:
            first = request
            break
        else:
            return
        self.tail_requests.append(first)
        try:
            predicate = _compile(first.filter)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid filter: {exc}")
        sent = 0
        while True:
            fresh = [e for e in self.entries[sent:] if predicate(e)]
            sent = len(self.entries)
            if fresh:
                yield types.TailLogEntriesResponse(entries=fresh)
            self._added.clear()
            await self._added.wait()


@asynccontextmanager
async def fake_logging(project: str = "test-project") -> AsyncIterator[FakeLogging]:
    """Start the fake on a free loopback port; stopped when the block ends."""
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    fake = FakeLogging(address=f"127.0.0.1:{port}", project=project)
    handlers = {
        "ListLogEntries": grpc.unary_unary_rpc_method_handler(
            fake._list,
            request_deserializer=types.ListLogEntriesRequest.deserialize,
            response_serializer=types.ListLogEntriesResponse.serialize,
        ),
        "TailLogEntries": grpc.stream_stream_rpc_method_handler(
            fake._tail,
            request_deserializer=types.TailLogEntriesRequest.deserialize,
            response_serializer=types.TailLogEntriesResponse.serialize,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    await server.start()
    try:
        yield fake
    finally:
        await server.stop(grace=0.5)
