"""REST routes for runs: each one calls the Runs service over gRPC and holds no logic of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import grpc
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from google.protobuf import field_mask_pb2
from pydantic import ConfigDict, Field

from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.contracts.labels import is_user_label_key
from arc_core.contracts.run_layout import FILE_GROUPS
from arc_core.protos import from_struct
from gateway.convert import message_dict, run_json
from gateway.deps import Backends, CallerMetadata
from gateway.inputs import RequestBody, RunId, body_struct
from gateway.models.runs import Run, RunEvent, RunFiles, RunHistory, RunLaunch, RunPage, RunValidation
from gateway.openapi import ErrorsDeclared, purged_responses
from gateway.paging import DEFAULT_PAGE_SIZE, EventSequence, PageNumber, PageSize, page_body, position_number, skip_for
from gateway.streams import (
    EventStream,
    FileDownload,
    StreamItem,
    attachment,
    download_response,
    download_responses,
    resume_position,
    stream_response,
    stream_responses,
)
from gateway.yaml_bodies import post_with_yaml, prefers_yaml, yaml_content, yaml_response

router = APIRouter(prefix="/api/runs", tags=["runs"], route_class=ErrorsDeclared)


class CreateRunBody(RequestBody):
    pipeline: str
    pipeline_version: str
    samplesheet_csv: str
    config_content: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    source_ngs_runs: list[str] = Field(default_factory=list)
    source_project: str | None = None
    name: str = Field(default="", description="at most 120 characters; empty = pipeline, sample count and project")
    description: str = Field(default="", description="free text, at most 4 KB")
    labels: dict[str, str] = Field(default_factory=dict, description="key → value, Google label rules")


class RecoverRunBody(RequestBody):
    reuse_work_dir: bool = True
    notes: str = ""
    override_params: dict[str, Any] | None = None
    override_config: str | None = None


def _quote_filter(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- names and labels: search ---
SearchText = Annotated[str | None, Query(max_length=120, description="runs whose name contains this text, in any case")]
LabelParams = Annotated[
    list[str] | None,
    Query(description="`key:value`; repeat to require several labels (each must match)", examples=[["team:onc"]]),
]


def _search_terms(q: str | None, labels: list[str]) -> list[str]:
    """The filter terms of ``q`` and each ``label=key:value``; a label that is no ``key:value`` is a 400."""
    terms = [f"name:{_quote_filter(q)}"] if q else []
    for item in labels:
        key, colon, value = item.partition(":")
        if not colon or not is_user_label_key(key):
            problem = "must be key:value, the key 1-63 of a-z 0-9 _ - starting with a lower-case letter"
            raise RequestValidationError([{"loc": ("query", "label"), "msg": problem, "type": "value_error"}])
        terms.append(f"labels.{key} = {_quote_filter(value)}")
    return terms


@router.get("", operation_id="list_runs", response_model=RunPage)
async def list_runs(
    backends: Backends,
    metadata: CallerMetadata,
    status: str | None = None,
    pipeline: str | None = None,
    user: str | None = None,
    page: PageNumber = 1,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    q: SearchText = None,
    label: LabelParams = None,
    include_purged: Annotated[bool, Query(description="list purged runs too")] = False,
) -> dict[str, Any]:
    """Newest first. ``page`` addresses pages directly; ``page_token`` (``next_page_token``) is cheaper deep."""
    terms = [
        f"{name} = {_quote_filter(value)}"
        for name, value in (("status", status), ("pipeline", pipeline), ("user_email", user))
        if value
    ]
    terms += _search_terms(q, label or [])
    request = runs_service_pb2.ListRunsRequest(
        page_size=page_size,
        filter=" AND ".join(terms),
        page_token=page_token or "",
        skip=skip_for(page, page_size, page_token),
        show_purged=include_purged,
    )
    response = await backends.runs.ListRuns(request, metadata=metadata)
    return page_body("runs", [run_json(r) for r in response.runs], response, page=page, page_size=page_size)


@post_with_yaml(router, "", body_schema="CreateRunBody", status_code=201, operation_id="create_run", response_model=Run)
async def create_run(
    body: CreateRunBody,
    backends: Backends,
    metadata: CallerMetadata,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The body as JSON, or as YAML with `Content-Type: application/yaml` (a launch document as exported)."""
    request = create_request(body, request_id=idempotency_key or "")
    return run_json(await backends.runs.CreateRun(request, metadata=metadata))


def create_request(body: CreateRunBody, *, request_id: str = "") -> runs_service_pb2.CreateRunRequest:
    return runs_service_pb2.CreateRunRequest(
        pipeline=body.pipeline,
        pipeline_version=body.pipeline_version,
        samplesheet_csv=body.samplesheet_csv,
        config_content=body.config_content,
        params=body_struct("params", body.params),
        source_ngs_runs=body.source_ngs_runs,
        source_project=body.source_project or "",
        request_id=request_id,
        name=body.name,
        description=body.description,
        labels=body.labels,
    )


@router.get("/{run_id}", operation_id="get_run", response_model=Run)
async def get_run(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    return run_json(await backends.runs.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=metadata))


# --- names and labels: PATCH ---
class UpdateRunBody(RequestBody):
    """Any of the three; a key not given keeps its value. Any other key is refused."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="at most 120 characters; empty or null = the default name")
    description: str | None = Field(default=None, description="free text, at most 4 KB; empty or null clears it")
    labels: dict[str, str] | None = Field(
        default=None, description="replaces every label (Google label rules); {} or null removes them"
    )


@router.patch("/{run_id}", operation_id="update_run", response_model=Run)
async def update_run(
    run_id: RunId, body: UpdateRunBody, backends: Backends, metadata: CallerMetadata
) -> dict[str, Any]:
    """Changes the run's name, description or labels (owner or admin), at any status."""
    paths = [name for name in ("name", "description", "labels") if name in body.model_fields_set]
    if not paths:  # nothing to change (an empty mask would mean all three)
        return run_json(await backends.runs.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=metadata))
    request = runs_service_pb2.UpdateRunRequest(
        run=run_pb2.Run(
            run_id=run_id, name=body.name or "", description=body.description or "", labels=body.labels or {}
        ),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    return run_json(await backends.runs.UpdateRun(request, metadata=metadata))


@router.delete("/{run_id}", operation_id="cancel_run", response_model=Run)
async def cancel_run(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    request = runs_service_pb2.CancelRunRequest(run_id=run_id)
    return run_json(await backends.runs.CancelRun(request, metadata=metadata))


@router.post(
    "/{run_id}/recover", status_code=201, operation_id="recover_run", response_model=Run, responses=purged_responses()
)
async def recover_run(
    run_id: RunId,
    body: RecoverRunBody,
    backends: Backends,
    metadata: CallerMetadata,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    request = runs_service_pb2.RecoverRunRequest(
        run_id=run_id,
        reuse_work_dir=body.reuse_work_dir,
        notes=body.notes,
        override_config=body.override_config or "",
        request_id=idempotency_key or "",
    )
    if body.override_params is not None:
        request.override_params.CopyFrom(body_struct("override_params", body.override_params))
    return run_json(await backends.runs.RecoverRun(request, metadata=metadata))


@router.get("/{run_id}/files", operation_id="list_run_files", response_model=RunFiles, responses=purged_responses())
async def list_run_files(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    response = await backends.runs.ListRunFiles(runs_service_pb2.ListRunFilesRequest(run_id=run_id), metadata=metadata)
    return {
        group: [
            {
                "path": f.path,
                "size": f.size_bytes,
                "updated_at": message_dict(f)["updated_at"],
                "download_url": f.download_url,
            }
            for f in getattr(response, group)
        ]
        for group in FILE_GROUPS
    }


@router.get(
    "/{run_id}/files/{path:path}",
    operation_id="download_run_file",
    response_class=FileDownload,
    responses={
        **download_responses("application/octet-stream", "The file's bytes, as an attachment"),
        **purged_responses(),
    },
)
async def download_run_file(run_id: RunId, path: str, backends: Backends, metadata: CallerMetadata) -> Response:
    call = backends.runs.ReadRunFile(runs_service_pb2.ReadRunFileRequest(run_id=run_id, path=path), metadata=metadata)
    name = path.rsplit("/", 1)[-1]
    return await download_response(
        call,
        empty=runs_service_pb2.ReadRunFileResponse(),
        media_type="application/octet-stream",
        headers=lambda first: {"Content-Length": str(first.total_size), "Content-Disposition": attachment(name)},
    )


@router.get(
    "/{run_id}/events", operation_id="watch_run", response_class=EventStream, responses=stream_responses(RunEvent)
)
async def watch_run(
    run_id: RunId, request: Request, backends: Backends, metadata: CallerMetadata, after: EventSequence = None
) -> Any:
    """SSE: ``status`` events (``id:`` = sequence; reconnect with ``Last-Event-ID``), then ``done``."""
    after_sequence = position_number(resume_position(request, str(after) if after is not None else None))
    call = backends.runs.WatchRun(
        runs_service_pb2.WatchRunRequest(run_id=run_id, after_sequence=after_sequence), metadata=metadata
    )
    # The first event (or the error) arrives before the response starts, so a bad run id is a real 404.
    first = await call.read()

    async def items() -> AsyncIterator[StreamItem]:
        event = first
        last = after_sequence
        try:
            while event is not grpc.aio.EOF:
                last = event.sequence
                kind = event.WhichOneof("event")
                data = run_json(event.status) if kind == "status" else message_dict(event.progress)
                yield StreamItem(event=kind or "status", data=data, id=str(event.sequence))
                event = await call.read()
        finally:
            call.cancel()
        done_state["last_sequence"] = last

    done_state: dict[str, Any] = {"run_id": run_id}
    return stream_response(request, items(), done=done_state)


# --- history and purge ---


def _status_name(status: run_pb2.Run.Status) -> str | None:
    return None if status == run_pb2.Run.STATUS_UNSPECIFIED else run_pb2.Run.Status.Name(status).lower()


@router.get("/{run_id}/history", operation_id="get_run_history", response_model=RunHistory)
async def get_run_history(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """Every status move and action (who, when, why), oldest first, and the runs this one came from or led to."""
    history = await backends.runs.GetRunHistory(runs_service_pb2.GetRunHistoryRequest(run_id=run_id), metadata=metadata)
    return {
        "run_id": history.run_id,
        "entries": [
            {
                "kind": entry.kind,
                "time": entry.time.ToJsonString(),
                "actor": entry.actor,
                "reason": entry.reason,
                "from_status": _status_name(entry.from_status),
                "to_status": _status_name(entry.to_status),
            }
            for entry in history.entries
        ],
        "links": [
            {"relation": link.relation, "run_id": link.run_id, "created_at": link.created_at.ToJsonString()}
            for link in history.links
        ],
    }


@router.post("/{run_id}/purge", operation_id="purge_run", response_model=Run)
async def purge_run(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """Deletes a terminal run's files (inputs, work, results, logs) and keeps its record, marked `purged_at`
    (owner or admin). 409 while the run is active; purging again is a no-op."""
    request = runs_service_pb2.PurgeRunRequest(run_id=run_id)
    return run_json(await backends.runs.PurgeRun(request, metadata=metadata))


# --- launch documents, relaunch, validation ---


class RelaunchRunBody(RequestBody):
    """What the new run changes; anything not given is the source run's (its description and labels too)."""

    model_config = ConfigDict(extra="forbid")

    pipeline_version: str | None = Field(default=None, description="another version of the pipeline; null = the run's")
    override_params: dict[str, Any] | None = Field(
        default=None,
        description="merged over the run's params (a null value removes one) or, with `merge_params: false`,"
        " replacing them; null = the run's params",
    )
    merge_params: bool = Field(default=True, description="false: `override_params` replaces the run's params")
    override_config: str | None = Field(default=None, description="the user config to use; null = the run's")
    override_samplesheet_csv: str | None = Field(default=None, description="the samplesheet to use; null = the run's")
    name: str | None = Field(default=None, description="the new run's name; null or empty = the default name")


LaunchFormat = Annotated[
    Literal["json", "yaml"] | None,
    Query(description="`json` or `yaml` whatever `Accept` says (for a download link); default: by `Accept`"),
]


def launch_json(launch: run_pb2.RunLaunch) -> dict[str, Any]:
    """The launch document with the keys of a `POST /api/runs` body (``gateway.models.runs.RunLaunch``)."""
    return {
        "pipeline": launch.pipeline,
        "pipeline_version": launch.pipeline_version,
        "name": launch.name,
        "description": launch.description,
        "labels": dict(sorted(launch.labels.items())),
        "params": _sorted_keys(from_struct(launch.params)),
        "source_ngs_runs": list(launch.source_ngs_runs),
        "source_project": launch.source_project or None,
        "config_content": launch.config_content,
        "samplesheet_csv": launch.samplesheet_csv,
    }


def _sorted_keys(value: Any) -> Any:
    """Objects with their keys in order, at any depth: a map has none, and an export should diff cleanly."""
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


@router.get(
    "/{run_id}/launch",
    operation_id="get_run_launch",
    response_model=RunLaunch,
    responses={
        200: {"description": "The launch document, as JSON or YAML", "content": yaml_content("RunLaunch")},
        **purged_responses(),
    },
)
async def get_run_launch(
    run_id: RunId,
    response: Response,
    backends: Backends,
    metadata: CallerMetadata,
    format: LaunchFormat = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,  # OpenAPI describes it by `content`
) -> Any:
    """The run's launch document: exactly a `POST /api/runs` body that makes the same run again. JSON, or YAML
    with `Accept: application/yaml` (or `format=yaml`), as an attachment `<run_id>.launch.yaml`."""
    launch = await backends.runs.GetRunLaunch(runs_service_pb2.GetRunLaunchRequest(run_id=run_id), metadata=metadata)
    document = launch_json(launch)
    if format == "yaml" or (format is None and prefers_yaml(accept)):
        return await yaml_response(document, filename=f"{run_id}.launch.yaml")
    response.headers["Vary"] = "Accept"
    return document


@post_with_yaml(
    router,
    "/{run_id}/relaunch",
    body_schema="RelaunchRunBody",
    status_code=201,
    operation_id="relaunch_run",
    response_model=Run,
    responses=purged_responses(),
)
async def relaunch_run(
    run_id: RunId,
    body: RelaunchRunBody,
    backends: Backends,
    metadata: CallerMetadata,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """A new run from a completed, failed or cancelled run's inputs, with the overrides given (`{}`: the same
    inputs). A fresh run, not a recovery (that is `/recover`); `relaunched_from` names its source. 409 while
    the run is active."""
    request = runs_service_pb2.RelaunchRunRequest(
        run_id=run_id,
        pipeline_version=body.pipeline_version or "",
        merge_params=body.merge_params,
        name=body.name or "",
        request_id=idempotency_key or "",
    )
    if body.override_params is not None:
        request.override_params.CopyFrom(body_struct("override_params", body.override_params))
    if body.override_config is not None:
        request.override_config = body.override_config
    if body.override_samplesheet_csv is not None:
        request.override_samplesheet_csv = body.override_samplesheet_csv
    return run_json(await backends.runs.RelaunchRun(request, metadata=metadata))


@post_with_yaml(
    router, ":validate", body_schema="CreateRunBody", operation_id="validate_run", response_model=RunValidation
)
async def validate_run(body: CreateRunBody, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """Checks a `POST /api/runs` body (JSON or YAML) as a create would: 200 with the sample count, the name the
    run would get and any warnings, or 400 with every violation, located. Nothing is stored."""
    request = runs_service_pb2.ValidateRunRequest(run=create_request(body))
    answer = await backends.runs.ValidateRun(request, metadata=metadata)
    return {"sample_count": answer.sample_count, "name": answer.name, "warnings": list(answer.warnings)}
