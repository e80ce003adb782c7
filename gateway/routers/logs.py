"""REST routes for a run's logs, tasks and task output: each calls the Logs service over gRPC.

Streams are SSE (or NDJSON on request): the workflow log's ``id:`` is the byte offset to resume from (its
batch's ``next_offset``), a task's output's ``id:`` its opaque position; a reconnect with ``Last-Event-ID``
resumes without gap or duplicate, and every stream ends with an explicit ``done`` (or ``error``) event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Query, Request, Response

from arc.logs.v1 import log_pb2, logs_service_pb2
from gateway.convert import message_dict
from gateway.deps import Backends, CallerMetadata
from gateway.inputs import RunId
from gateway.models.logs import TaskLogEvent, TaskLogs, TaskPage, WorkflowLog, WorkflowLogEvent
from gateway.openapi import ErrorsDeclared, purged_responses
from gateway.paging import (
    DEFAULT_PAGE_SIZE,
    ByteOffset,
    OptionalByteOffset,
    PageNumber,
    PageSize,
    page_body,
    position_number,
    skip_for,
)
from gateway.streams import (
    EventStream,
    StreamItem,
    ZipDownload,
    attachment,
    download_response,
    download_responses,
    resume_position,
    stream_response,
    stream_responses,
)

# Every route reads a run's logs: gone for good once the run is purged (410).
router = APIRouter(prefix="/api/runs", tags=["logs"], route_class=ErrorsDeclared, responses=purged_responses())

_TASK_OPTIONAL = (
    "exit",
    "duration_ms",
    "realtime_ms",
    "cpu_percent",
    "peak_rss_bytes",
    "peak_vmem_bytes",
    "rchar_bytes",
    "wchar_bytes",
)
_TASK_TEXT = ("task_id", "hash", "native_id", "name", "process", "tag", "status", "workdir")


def _time(message: Any, name: str) -> str | None:
    return getattr(message, name).ToJsonString() if message.HasField(name) else None


def entry_json(entry: log_pb2.LogEntry) -> dict[str, Any]:
    return {
        "offset": entry.offset,
        "end_offset": entry.end_offset,
        "timestamp": _time(entry, "timestamp"),
        "level": entry.level,
        "thread": entry.thread,
        "logger": entry.logger,
        "message": entry.message,
    }


def task_json(task: log_pb2.TaskInfo) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(task, name) or None for name in _TASK_TEXT}
    data.update({name: getattr(task, name) if task.HasField(name) else None for name in _TASK_OPTIONAL})
    data.update({name: _time(task, name) for name in ("submit", "start", "complete")})
    data["extra"] = dict(task.extra)
    return data


async def _accepted(call: Any) -> None:
    """Wait for the stream's headers: an error before them (NOT_FOUND...) becomes a real HTTP error."""
    await call.initial_metadata()
    if call.done():
        code = await call.code()
        if code != grpc.StatusCode.OK:
            raise grpc.aio.AioRpcError(
                code, await call.initial_metadata(), await call.trailing_metadata(), await call.details()
            )


@router.get("/{run_id}/logs", operation_id="get_workflow_log", response_model=WorkflowLog)
async def get_workflow_log(
    run_id: RunId,
    backends: Backends,
    metadata: CallerMetadata,
    offset: ByteOffset = 0,
    limit: Annotated[int, Query(ge=0, le=5000)] = 0,
) -> dict[str, Any]:
    """Entries of ``nextflow.log`` from byte ``offset``; continue from ``next_offset``."""
    request = logs_service_pb2.GetWorkflowLogRequest(run_id=run_id, offset=offset, limit=limit)
    response = await backends.logs.GetWorkflowLog(request, metadata=metadata)
    return {
        "entries": [entry_json(e) for e in response.entries],
        "next_offset": response.next_offset,
        "complete": response.complete,
    }


@router.get(
    "/{run_id}/logs/stream",
    operation_id="stream_workflow_log",
    response_class=EventStream,
    responses=stream_responses(WorkflowLogEvent),
)
async def stream_workflow_log(
    run_id: RunId, request: Request, backends: Backends, metadata: CallerMetadata, offset: OptionalByteOffset = None
) -> Any:
    """SSE ``entries`` events (``{entries, next_offset}``; ``id:`` = ``next_offset``, the offset to resume
    from), then ``done`` once the run's log is final."""
    start = position_number(resume_position(request, str(offset) if offset is not None else None))
    call = backends.logs.StreamWorkflowLog(
        logs_service_pb2.StreamWorkflowLogRequest(run_id=run_id, offset=start), metadata=metadata
    )
    try:
        await _accepted(call)
    except BaseException:
        call.cancel()
        raise
    done: dict[str, Any] = {"run_id": run_id, "next_offset": start}

    async def items() -> AsyncIterator[StreamItem]:
        try:
            async for batch in call:
                done["next_offset"] = batch.next_offset
                data = {"entries": [entry_json(e) for e in batch.entries], "next_offset": batch.next_offset}
                yield StreamItem(event="entries", data=data, id=str(batch.next_offset))
        finally:
            call.cancel()

    return stream_response(request, items(), done=done)


@router.get(
    "/{run_id}/logs/download",
    operation_id="download_log_archive",
    response_class=ZipDownload,
    responses=download_responses("application/zip", "A zip of the run's logs, as an attachment"),
)
async def download_log_archive(run_id: RunId, backends: Backends, metadata: CallerMetadata) -> Response:
    """A zip of ``nextflow.log``, ``trace.txt``, ``timeline.html`` and ``report.html`` (those that exist)."""
    call = backends.logs.DownloadLogArchive(
        logs_service_pb2.DownloadLogArchiveRequest(run_id=run_id), metadata=metadata
    )
    return await download_response(
        call,
        empty=logs_service_pb2.DownloadLogArchiveResponse(),
        media_type="application/zip",
        headers=lambda first: {"Content-Disposition": attachment(first.filename or f"{run_id}-logs.zip")},
    )


@router.get("/{run_id}/tasks", operation_id="list_tasks", response_model=TaskPage)
async def list_tasks(
    run_id: RunId,
    backends: Backends,
    metadata: CallerMetadata,
    status: str | None = None,
    process: str | None = None,
    page: PageNumber = 1,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
) -> dict[str, Any]:
    """Tasks from the trace (``page`` addresses pages directly; ``page_token`` continues), with progress."""
    request = logs_service_pb2.ListTasksRequest(
        run_id=run_id,
        status=status or "",
        process=process or "",
        page_size=page_size,
        page_token=page_token or "",
        skip=skip_for(page, page_size, page_token),
    )
    response = await backends.logs.ListTasks(request, metadata=metadata)
    body = page_body("tasks", [task_json(t) for t in response.tasks], response, page=page, page_size=page_size)
    body["progress"] = [message_dict(p) for p in response.progress]
    return body


@router.get("/{run_id}/tasks/{task_id}/logs", operation_id="get_task_logs", response_model=TaskLogs)
async def get_task_logs(run_id: RunId, task_id: str, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """A task's stdout and stderr (by trace ``task_id``, or by hash ``abcdef12`` for a task still running)."""
    request = logs_service_pb2.GetTaskLogsRequest(run_id=run_id, task_id=task_id)
    response = await backends.logs.GetTaskLogs(request, metadata=metadata)
    return {"stdout": response.stdout, "stderr": response.stderr, "truncated": response.truncated}


@router.get(
    "/{run_id}/tasks/{task_id}/logs/stream",
    operation_id="stream_task_logs",
    response_class=EventStream,
    responses=stream_responses(TaskLogEvent),
)
async def stream_task_logs(
    run_id: RunId,
    task_id: str,
    request: Request,
    backends: Backends,
    metadata: CallerMetadata,
    after: str | None = None,
) -> Any:
    """SSE ``output`` events (``stream``, ``text``; ``id:`` = resume position), then ``done`` with the task."""
    position = resume_position(request, after) or ""
    call = backends.logs.StreamTaskLogs(
        logs_service_pb2.StreamTaskLogsRequest(run_id=run_id, task_id=task_id, after_position=position),
        metadata=metadata,
    )
    try:
        await _accepted(call)
    except BaseException:
        call.cancel()
        raise
    done: dict[str, Any] = {"run_id": run_id, "task_id": task_id, "position": position or None}

    async def items() -> AsyncIterator[StreamItem]:
        try:
            async for chunk in call:
                done["position"] = chunk.position
                stream = logs_service_pb2.StreamTaskLogsResponse.Stream.Name(chunk.stream).lower()
                yield StreamItem(event="output", data={"stream": stream, "text": chunk.text}, id=chunk.position or None)
        finally:
            call.cancel()

    return stream_response(request, items(), done=done)
