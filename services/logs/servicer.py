"""gRPC face of the Logs service: translate messages, delegate to :class:`LogsService`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from arc.logs.v1 import log_pb2, logs_service_pb2, logs_service_pb2_grpc
from arc_core.grpc_server import current_identity
from arc_core.protos import timestamp
from services.logs.log_parser import LogEntry
from services.logs.service import LogsService
from services.logs.task_logs import STDERR, TaskLogChunk
from services.logs.trace_parser import ProcessProgress, TaskRecord

SERVICE_NAME = logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name

_OPTIONAL = (
    ("exit", "exit"),
    ("duration_ms", "duration_ms"),
    ("realtime_ms", "realtime_ms"),
    ("cpu_percent", "cpu_percent"),
    ("peak_rss", "peak_rss_bytes"),
    ("peak_vmem", "peak_vmem_bytes"),
    ("rchar", "rchar_bytes"),
    ("wchar", "wchar_bytes"),
)
_TEXT = ("task_id", "hash", "native_id", "name", "process", "tag", "status", "workdir")


def add_entries(field: Any, entries: list[LogEntry]) -> None:
    """Append ``entries`` to a repeated ``LogEntry`` field (in place: no intermediate messages)."""
    for entry in entries:
        message = field.add(
            offset=entry.offset,
            end_offset=entry.end_offset,
            level=entry.level,
            thread=entry.thread,
            logger=entry.logger,
            message=entry.message,
        )
        if entry.time is not None:
            message.timestamp.FromDatetime(entry.time)


def task_to_proto(task: TaskRecord) -> log_pb2.TaskInfo:
    message = log_pb2.TaskInfo(extra=task.extra)
    for name in _TEXT:
        value = getattr(task, name)
        if value:
            setattr(message, name, value)
    for attr, name in _OPTIONAL:
        value = getattr(task, attr)
        if value is not None:
            setattr(message, name, value)
    for name in ("submit", "start", "complete"):
        value = getattr(task, name)
        if value is not None:
            getattr(message, name).CopyFrom(timestamp(value))
    return message


def progress_to_proto(p: ProcessProgress) -> log_pb2.ProcessProgress:
    return log_pb2.ProcessProgress(
        process=p.process,
        submitted=p.submitted,
        running=p.running,
        succeeded=p.succeeded,
        cached=p.cached,
        failed=p.failed,
        aborted=p.aborted,
        total=p.total,
    )


def chunk_to_proto(chunk: TaskLogChunk) -> logs_service_pb2.StreamTaskLogsResponse:
    response = logs_service_pb2.StreamTaskLogsResponse
    stream = response.STDERR if chunk.stream == STDERR else response.STDOUT
    return response(stream=stream, text=chunk.text, position=chunk.position)


class LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, service: LogsService) -> None:
        self.service = service

    async def GetWorkflowLog(
        self, request: logs_service_pb2.GetWorkflowLogRequest, context: grpc.aio.ServicerContext
    ) -> logs_service_pb2.GetWorkflowLogResponse:
        page = await self.service.get_workflow_log(
            current_identity(), request.run_id, offset=request.offset, limit=request.limit
        )
        response = logs_service_pb2.GetWorkflowLogResponse(next_offset=page.next_offset, complete=page.complete)
        add_entries(response.entries, page.entries)
        return response

    async def StreamWorkflowLog(
        self, request: logs_service_pb2.StreamWorkflowLogRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[logs_service_pb2.StreamWorkflowLogResponse]:
        batches = await self.service.stream_workflow_log(current_identity(), request.run_id, offset=request.offset)
        # Access is settled: answer the headers now, so a client can tell "allowed, nothing new yet" from
        # "still deciding" (the gateway waits for them before starting its SSE response).
        await context.send_initial_metadata(())
        async for batch in batches:
            response = logs_service_pb2.StreamWorkflowLogResponse(next_offset=batch[-1].end_offset)
            add_entries(response.entries, batch)
            yield response

    async def ListTasks(
        self, request: logs_service_pb2.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> logs_service_pb2.ListTasksResponse:
        page = await self.service.list_tasks(
            current_identity(),
            request.run_id,
            status=request.status,
            process=request.process,
            page_size=request.page_size,
            page_token=request.page_token,
            skip=request.skip,
        )
        return logs_service_pb2.ListTasksResponse(
            tasks=[task_to_proto(t) for t in page.tasks],
            next_page_token=page.next_page_token,
            total_size=page.total,
            progress=[progress_to_proto(p) for p in page.progress],
            truncated_rows=page.truncated_rows,
        )

    async def GetTaskLogs(
        self, request: logs_service_pb2.GetTaskLogsRequest, context: grpc.aio.ServicerContext
    ) -> logs_service_pb2.GetTaskLogsResponse:
        logs = await self.service.get_task_logs(current_identity(), request.run_id, request.task_id)
        return logs_service_pb2.GetTaskLogsResponse(stdout=logs.stdout, stderr=logs.stderr, truncated=logs.truncated)

    async def StreamTaskLogs(
        self, request: logs_service_pb2.StreamTaskLogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[logs_service_pb2.StreamTaskLogsResponse]:
        chunks = await self.service.stream_task_logs(
            current_identity(), request.run_id, request.task_id, after=request.after_position
        )
        await context.send_initial_metadata(())
        async for chunk in chunks:
            yield chunk_to_proto(chunk)

    async def DownloadLogArchive(
        self, request: logs_service_pb2.DownloadLogArchiveRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[logs_service_pb2.DownloadLogArchiveResponse]:
        filename, data = await self.service.log_archive(current_identity(), request.run_id)
        yield logs_service_pb2.DownloadLogArchiveResponse(data=b"", filename=filename)
        async for piece in data:
            yield logs_service_pb2.DownloadLogArchiveResponse(data=piece)
