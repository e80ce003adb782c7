"""REST routes for runs: each one calls the Runs service over gRPC and holds no logic of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Header, Request, Response
from pydantic import Field

from arc.runs.v1 import runs_service_pb2
from arc_core.contracts.run_layout import FILE_GROUPS
from gateway.convert import message_dict, run_json
from gateway.deps import Backends, CallerMetadata
from gateway.inputs import RequestBody, RunId, body_struct
from gateway.models.runs import Run, RunEvent, RunFiles, RunPage
from gateway.openapi import ErrorsDeclared
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

router = APIRouter(prefix="/api/runs", tags=["runs"], route_class=ErrorsDeclared)


class CreateRunBody(RequestBody):
    pipeline: str
    pipeline_version: str
    samplesheet_csv: str
    config_content: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    source_ngs_runs: list[str] = Field(default_factory=list)
    source_project: str | None = None


class RecoverRunBody(RequestBody):
    reuse_work_dir: bool = True
    notes: str = ""
    override_params: dict[str, Any] | None = None
    override_config: str | None = None


def _quote_filter(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
) -> dict[str, Any]:
    """Newest first. ``page`` addresses pages directly; ``page_token`` (``next_page_token``) is cheaper deep."""
    terms = [
        f"{name} = {_quote_filter(value)}"
        for name, value in (("status", status), ("pipeline", pipeline), ("user_email", user))
        if value
    ]
    request = runs_service_pb2.ListRunsRequest(
        page_size=page_size,
        filter=" AND ".join(terms),
        page_token=page_token or "",
        skip=skip_for(page, page_size, page_token),
    )
    response = await backends.runs.ListRuns(request, metadata=metadata)
    return page_body("runs", [run_json(r) for r in response.runs], response, page=page, page_size=page_size)


@router.post("", status_code=201, operation_id="create_run", response_model=Run)
async def create_run(
    body: CreateRunBody,
    backends: Backends,
    metadata: CallerMetadata,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    request = runs_service_pb2.CreateRunRequest(
        pipeline=body.pipeline,
        pipeline_version=body.pipeline_version,
        samplesheet_csv=body.samplesheet_csv,
        config_content=body.config_content,
        params=body_struct("params", body.params),
        source_ngs_runs=body.source_ngs_runs,
        source_project=body.source_project or "",
        request_id=idempotency_key or "",
    )
    return run_json(await backends.runs.CreateRun(request, metadata=metadata))


@router.get("/{run_id}", operation_id="get_run", response_model=Run)
async def get_run(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    return run_json(await backends.runs.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=metadata))


@router.delete("/{run_id}", operation_id="cancel_run", response_model=Run)
async def cancel_run(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    request = runs_service_pb2.CancelRunRequest(run_id=run_id)
    return run_json(await backends.runs.CancelRun(request, metadata=metadata))


@router.post("/{run_id}/recover", status_code=201, operation_id="recover_run", response_model=Run)
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


@router.get("/{run_id}/files", operation_id="list_run_files", response_model=RunFiles)
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
    responses=download_responses("application/octet-stream", "The file's bytes, as an attachment"),
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
