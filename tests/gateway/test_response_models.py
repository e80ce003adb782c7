"""Every JSON route answers exactly what its converter builds, through its response model, and the document's
schema for it holds the answer.

The gateway runs in process over fake stubs that answer each RPC with its response message filled in one of
two ways: every field set (each string, number, timestamp, map, nested message: so a field the proto gains
and the model lacks fails here), or nothing set but one item in each list (so every null is seen). Each
route's body over HTTP is compared, key by key and type by type, with what the route's own function returns
when called directly (the dict, before FastAPI's response model): nothing dropped, renamed or re-typed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import Response
from google.protobuf import message_factory, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from arc.benchling.v1 import benchling_service_pb2
from arc.logs.v1 import logs_service_pb2
from arc.pipelines.v1 import pipelines_service_pb2
from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.contracts.run_layout import FILE_GROUPS
from arc_core.protos import to_struct
from arc_core.settings import Settings
from gateway.deps import Stubs
from gateway.main import create_app
from gateway.models.runs import Run, RunFiles
from gateway.routers import benchling, logs, me, pipelines, runs

RUN_ID = "run-0a1b2c3d"
LAUNCH_BODY = {"pipeline": "demo/hello", "pipeline_version": "1.0.0", "samplesheet_csv": "sample\ns1\n"}
TIME = timestamp_pb2.Timestamp(seconds=1_767_268_800, nanos=123_000_000)  # 2026-01-01T12:00:00.123Z
PARAMS = {"genome": "GRCh38", "expected_cells": 5000, "ratio": 0.5, "skip": True, "nested": {"a": [1, "x", None]}}
SERVICES = {
    "runs": runs_service_pb2.DESCRIPTOR.services_by_name["RunsService"],
    "logs": logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"],
    "pipelines": pipelines_service_pb2.DESCRIPTOR.services_by_name["PipelinesService"],
    "benchling": benchling_service_pb2.DESCRIPTOR.services_by_name["BenchlingService"],
}


def _special(descriptor: Descriptor) -> Message | None:
    """Well-known types, filled with something real."""
    if descriptor.full_name == "google.protobuf.Timestamp":
        return TIME
    if descriptor.full_name == "google.protobuf.Struct":
        return to_struct(PARAMS)
    if descriptor.full_name == "google.protobuf.Value":
        return struct_pb2.Value(string_value="GRCh38")
    return None


def _scalar(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_STRING:
        # The shipped JSON documents of a pipeline schema are JSON; every other text is just text.
        return '{"type": "object"}' if field.name.endswith("_json") else f"{field.name}-1"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return True
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return 2.5
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values[-1].number
    if field.type == FieldDescriptor.TYPE_BYTES:
        return b"bytes"
    return 7


def filled(descriptor: Descriptor, *, full: bool) -> Message:
    """A message of ``descriptor``: every field set (``full``), or only one (sparse) item in each list and a
    status that is not ``UNSPECIFIED``."""
    special = _special(descriptor)
    if special is not None:
        return special
    message = message_factory.GetMessageClass(descriptor)()
    for field in descriptor.fields:
        target = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if full:
                value = field.message_type.fields_by_name["value"]
                target["key-1"] = "value-1" if value.type == FieldDescriptor.TYPE_STRING else _scalar(value)
        elif field.is_repeated:
            if field.message_type is not None:
                target.add().CopyFrom(filled(field.message_type, full=full))
            elif full:
                target.append(_scalar(field))
        elif field.message_type is not None:
            if full:
                target.CopyFrom(filled(field.message_type, full=full))
        elif full:
            setattr(message, field.name, _scalar(field))
        elif field.type == FieldDescriptor.TYPE_ENUM:
            setattr(message, field.name, 1)
    if not full and descriptor.full_name == "arc.runs.v1.RunFile":
        message.updated_at.CopyFrom(TIME)  # always set by the service (the route reads it)
    if not full and descriptor.full_name == "arc.pipelines.v1.ParamGroup":
        # A param without a default (the key is absent) and one whose default is null.
        message.params.add().default.null_value = struct_pb2.NULL_VALUE
    return message


class FakeService:
    """Answers every unary RPC of ``service`` with its filled response, whatever the request."""

    def __init__(self, name: str, *, full: bool) -> None:
        self._service = SERVICES[name]
        self._full = full

    def __getattr__(self, rpc: str) -> Callable[..., Awaitable[Message]]:
        output = self._service.methods_by_name[rpc].output_type

        async def call(_request: Message, *, metadata: Any = ()) -> Message:
            return filled(output, full=self._full)

        return call


def fake_stubs(*, full: bool) -> Stubs:
    return Stubs(**{name: FakeService(name, full=full) for name in SERVICES})  # type: ignore[arg-type]


CREATE_BODY = {"pipeline": "nf-core/scrnaseq", "pipeline_version": "2.7.1", "samplesheet_csv": "sample\n"}
# Each JSON route: the request, and its own function called directly (given the stubs and the metadata).
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None, Callable[[Stubs, Any], Awaitable[dict[str, Any]]]]] = {
    "list_runs": (
        "GET",
        "/api/runs?page_size=2",
        None,
        lambda b, m: runs.list_runs(b, m, page=1, page_size=2, status=None, pipeline=None, user=None, page_token=None),
    ),
    "create_run": (
        "POST",
        "/api/runs",
        CREATE_BODY,
        lambda b, m: runs.create_run(runs.CreateRunBody(**CREATE_BODY), b, m, idempotency_key=None),
    ),
    "get_run": ("GET", f"/api/runs/{RUN_ID}", None, lambda b, m: runs.get_run(RUN_ID, b, m)),
    "update_run": (
        "PATCH",
        f"/api/runs/{RUN_ID}",
        {"name": "renamed"},
        lambda b, m: runs.update_run(RUN_ID, runs.UpdateRunBody(name="renamed"), b, m),
    ),
    "cancel_run": ("DELETE", f"/api/runs/{RUN_ID}", None, lambda b, m: runs.cancel_run(RUN_ID, b, m)),
    "recover_run": (
        "POST",
        f"/api/runs/{RUN_ID}/recover",
        {},
        lambda b, m: runs.recover_run(RUN_ID, runs.RecoverRunBody(), b, m, idempotency_key=None),
    ),
    "list_run_files": ("GET", f"/api/runs/{RUN_ID}/files", None, lambda b, m: runs.list_run_files(RUN_ID, b, m)),
    "get_run_launch": (
        "GET",
        f"/api/runs/{RUN_ID}/launch",
        None,
        lambda b, m: runs.get_run_launch(RUN_ID, Response(), b, m),
    ),
    "relaunch_run": (
        "POST",
        f"/api/runs/{RUN_ID}/relaunch",
        {},
        lambda b, m: runs.relaunch_run(RUN_ID, runs.RelaunchRunBody(), b, m, idempotency_key=None),
    ),
    "validate_run": (
        "POST",
        "/api/runs:validate",
        LAUNCH_BODY,
        lambda b, m: runs.validate_run(runs.CreateRunBody(**LAUNCH_BODY), b, m),
    ),
    "get_run_history": ("GET", f"/api/runs/{RUN_ID}/history", None, lambda b, m: runs.get_run_history(RUN_ID, b, m)),
    "purge_run": ("POST", f"/api/runs/{RUN_ID}/purge", None, lambda b, m: runs.purge_run(RUN_ID, b, m)),
    "get_workflow_log": (
        "GET",
        f"/api/runs/{RUN_ID}/logs",
        None,
        lambda b, m: logs.get_workflow_log(RUN_ID, b, m, offset=0, limit=0),
    ),
    "list_tasks": (
        "GET",
        f"/api/runs/{RUN_ID}/tasks?page_size=2",
        None,
        lambda b, m: logs.list_tasks(RUN_ID, b, m, status=None, process=None, page=1, page_size=2, page_token=None),
    ),
    "get_task_logs": (
        "GET",
        f"/api/runs/{RUN_ID}/tasks/1/logs",
        None,
        lambda b, m: logs.get_task_logs(RUN_ID, "1", b, m),
    ),
    "list_pipelines": (
        "GET",
        "/api/pipelines",
        None,
        lambda b, m: pipelines.list_pipelines(b, m, page_size=0, page_token=""),
    ),
    "get_pipeline_schema": (
        "GET",
        "/api/pipelines/nf-core/scrnaseq/schema",
        None,
        lambda b, m: pipelines.get_pipeline_schema("nf-core/scrnaseq", b, m, version=""),
    ),
    # A name without an owner: `acme/schema` is a pipeline's name, so the body is a Pipeline.
    "get_pipeline_schema (a pipeline)": (
        "GET",
        "/api/pipelines/acme/schema",
        None,
        lambda b, m: pipelines.get_pipeline_schema("acme", b, m, version=""),
    ),
    "get_pipeline": (
        "GET",
        "/api/pipelines/nf-core/scrnaseq",
        None,
        lambda b, m: pipelines.get_pipeline("nf-core/scrnaseq", b, m),
    ),
    "list_ngs_runs": (
        "GET",
        "/api/benchling/runs",
        None,
        lambda b, m: benchling.list_ngs_runs(
            b, m, project="", instrument="", created_after=None, created_before=None, name_contains="", page_size=0
        ),
    ),
    "list_ngs_run_samples": (
        "GET",
        "/api/benchling/runs/NGS-1/samples",
        None,
        lambda b, m: benchling.list_ngs_run_samples("NGS-1", b, m),
    ),
    "get_benchling_metadata": ("GET", "/api/benchling/metadata", None, lambda b, m: benchling.get_metadata(b, m)),
    "get_me": ("GET", "/api/me", None, lambda b, m: me.get_me(b, m)),
    "update_preferences": (
        "PATCH",
        "/api/me/preferences",
        {"theme": "dark"},
        lambda b, m: me.update_preferences({"theme": "dark"}, b, m),
    ),
    # No lifespan here: no service channels to check, so the gateway's own health only.
    "get_system_info": ("GET", "/api/system", None, lambda b, m: me.get_system_info(b, m, health={})),
    "build_samplesheet": (
        "POST",
        "/api/benchling/samplesheet",
        {"pipeline": "nf-core/scrnaseq"},
        lambda b, m: benchling.build_samplesheet(benchling.BuildSamplesheetBody(pipeline="nf-core/scrnaseq"), b, m),
    ),
}


def assert_same(got: Any, want: Any, where: str = "$") -> None:
    """Equal, and of the same JSON type all the way down (`1` is not `1.0`, a missing key is not a null)."""
    assert type(got) is type(want), (where, got, want)
    if isinstance(want, dict):
        assert set(got) == set(want), (where, sorted(set(got) ^ set(want)))
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{index}]")
    else:
        assert got == want, (where, got, want)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


@pytest.fixture(params=[True, False], ids=["every-field", "sparse"])
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[tuple[httpx.AsyncClient, Stubs]]:
    app = create_app(Settings())
    app.state.stubs = fake_stubs(full=request.param)  # no lifespan: nothing to connect to
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client, app.state.stubs


def _success_schema(document: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    path = url.split("?")[0]
    for template, operations in document["paths"].items():
        pattern = template.replace("{name}", "§").replace("{run_id}", RUN_ID).replace("{task_id}", "1")
        if "§" in pattern:
            head, tail = pattern.split("§")
            matches = path.startswith(head) and path.endswith(tail) and len(path) > len(head) + len(tail)
            if tail == "" and path.endswith(("/schema", "/samples")):
                matches = False  # `/{name}` would swallow the longer routes, as the router declares them first
        else:
            matches = path == pattern
        if matches and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            status = next(s for s in responses if s.startswith("2"))
            return responses[status]["content"]["application/json"]["schema"]
    raise AssertionError(f"no operation for {method} {url}")


@pytest.mark.parametrize("route", list(ROUTES))
async def test_the_body_is_what_the_route_builds(
    route: str, gateway: tuple[httpx.AsyncClient, Stubs], document: dict[str, Any]
) -> None:
    client, stubs = gateway
    method, url, body, direct = ROUTES[route]
    response = await client.request(method, url, json=body)
    assert response.status_code in (200, 201), response.text
    built = json.loads(json.dumps(await direct(stubs, ())))
    assert_same(response.json(), built)
    # The document's schema holds the body (with its components, so the `$ref`s resolve).
    schema = {**_success_schema(document, method, url), "components": document["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(response.json())


def test_every_json_route_is_compared() -> None:
    document = create_app(Settings()).openapi()
    json_operations = {
        op["operationId"]
        for operations in document["paths"].values()
        for op in operations.values()
        if any("application/json" in r.get("content", {}) for s, r in op["responses"].items() if s.startswith("2"))
    }
    assert json_operations - {"health", "health_ready"} == {name.split(" ")[0] for name in ROUTES}


def test_the_run_model_has_every_field_of_the_run_message() -> None:
    """One order too: the proto's (`gateway.convert.run_json` writes every field, null when unset)."""
    assert list(Run.model_fields) == [f.name for f in run_pb2.Run.DESCRIPTOR.fields]
    assert tuple(RunFiles.model_fields) == FILE_GROUPS
