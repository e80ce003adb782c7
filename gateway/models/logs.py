"""Bodies of the logs routes: the workflow log, tasks and their output (``gateway.routers.logs``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, RootModel

from gateway.errors import ErrorBody
from gateway.models.common import NextPageToken, PageNumber, PageSize, ResponseModel, Timestamp, Total


class LogEntry(ResponseModel):
    """One entry of ``nextflow.log``; multi-line messages stay together."""

    offset: int = Field(description="byte offset of the entry's first byte in the log")
    end_offset: int = Field(description="byte offset just past the entry (the next entry's `offset`)")
    timestamp: Timestamp | None = Field(description="the entry's time; null when the line has none")
    level: str = Field(description="`TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR`")
    thread: str = Field(description="the Nextflow thread that wrote it, e.g. `main`")
    logger: str = Field(description="the logger, abbreviated as Nextflow writes it, e.g. `nextflow.Session`")
    message: str = Field(description="the message, continuation lines included")


class WorkflowLog(ResponseModel):
    entries: list[LogEntry] = Field(description="the entries, in log order")
    next_offset: int = Field(description="where the next page starts: pass it as `offset`")
    complete: bool = Field(description="true when the run is terminal and the log is read to its end")


class Task(ResponseModel):
    """One task of a run, from its ``trace.txt``: null where the trace has `-` or no such column."""

    task_id: str | None = Field(description="the trace's `task_id` (a decimal number as text)")
    hash: str | None = Field(description="the work dir hash, e.g. `ab/cdef12`")
    native_id: str | None = Field(description="the executor's id for the task (a Batch job or a local pid)")
    name: str | None = Field(description="process and tag, e.g. `NFCORE_SCRNASEQ:SCRNASEQ:FASTQC (sample1)`")
    process: str | None = Field(description="fully qualified process name")
    tag: str | None = Field(description="the task's tag, e.g. the sample name")
    status: str | None = Field(
        description="Nextflow's status: `SUBMITTED`, `RUNNING`, `COMPLETED`, `CACHED`, `FAILED`, `ABORTED`"
    )
    workdir: str | None = Field(description="the task's work dir (a `gs://` URI or a local path)")
    exit: int | None = Field(description="the task's exit code")
    duration_ms: int | None = Field(description="wall time from submission to completion, in milliseconds")
    realtime_ms: int | None = Field(description="wall time of the task's command, in milliseconds")
    cpu_percent: float | None = Field(description="CPU use in percent of one core (400 = four cores busy)")
    peak_rss_bytes: int | None = Field(description="peak resident memory, in bytes")
    peak_vmem_bytes: int | None = Field(description="peak virtual memory, in bytes")
    rchar_bytes: int | None = Field(description="bytes the task read")
    wchar_bytes: int | None = Field(description="bytes the task wrote")
    submit: Timestamp | None = Field(description="when the task was submitted")
    start: Timestamp | None = Field(description="when the task started")
    complete: Timestamp | None = Field(description="when the task completed")
    extra: dict[str, str] = Field(description="any other trace columns, as written")


class ProcessProgress(ResponseModel):
    """Task counts for one process."""

    process: str = Field(description="fully qualified process name, e.g. `NFCORE_SCRNASEQ:SCRNASEQ:FASTQC`")
    submitted: int = Field(description="tasks handed to the executor, not yet running")
    running: int = Field(description="tasks running")
    succeeded: int = Field(description="tasks COMPLETED")
    cached: int = Field(description="tasks CACHED (reused by `-resume`)")
    failed: int = Field(description="tasks FAILED")
    aborted: int = Field(description="tasks ABORTED")
    total: int = Field(description="every task of the process, including statuses not counted above")


class TaskPage(ResponseModel):
    tasks: list[Task] = Field(description="the page, in trace order")
    total: Total
    page: PageNumber
    page_size: PageSize
    next_page_token: NextPageToken
    progress: list[ProcessProgress] = Field(description="per-process counts over the whole trace, not just this page")


class TaskLogs(ResponseModel):
    stdout: str = Field(description="the task's stdout; at most 1 MiB")
    stderr: str = Field(description="the task's stderr; at most 1 MiB")
    truncated: bool = Field(description="true when more output existed than was returned")


# Stream events: each SSE event (`event:`, `id:`, `data:` as JSON) or NDJSON line (`{event, data, id}`).


class LogBatch(ResponseModel):
    entries: list[LogEntry]
    next_offset: int = Field(description="the offset to resume from (also the event's `id`)")


class LogStreamDone(ResponseModel):
    run_id: str
    next_offset: int = Field(description="where the log ended: resume from here for anything later")


class WorkflowLogEventData(RootModel[LogBatch | LogStreamDone | ErrorBody]):
    """A workflow log event's data, by its ``event``: ``entries`` a LogBatch, ``done`` a LogStreamDone,
    ``error`` an ErrorBody."""


class WorkflowLogEvent(ResponseModel):
    """One event of ``GET /api/runs/{run_id}/logs/stream``: ``entries`` batches, then ``done`` (or ``error``)."""

    event: Literal["entries", "done", "error"]
    data: WorkflowLogEventData
    id: str | None = Field(default=None, description="the batch's `next_offset`: send it back as `Last-Event-ID`")


class TaskOutput(ResponseModel):
    stream: Literal["stdout", "stderr"]
    text: str


class TaskLogStreamDone(ResponseModel):
    run_id: str
    task_id: str
    position: str | None = Field(description="the last position sent; null when nothing was")


class TaskLogEventData(RootModel[TaskOutput | TaskLogStreamDone | ErrorBody]):
    """A task output event's data, by its ``event``: ``output`` a TaskOutput, ``done`` a TaskLogStreamDone,
    ``error`` an ErrorBody."""


class TaskLogEvent(ResponseModel):
    """One event of ``GET /api/runs/{run_id}/tasks/{task_id}/logs/stream``: ``output``, then ``done`` (or
    ``error``)."""

    event: Literal["output", "done", "error"]
    data: TaskLogEventData
    id: str | None = Field(default=None, description="the opaque resume position: send it back as `Last-Event-ID`")
