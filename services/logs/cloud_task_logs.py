"""Task stdout/stderr from Cloud Logging, the way Nextflow's google-batch executor reads them.

Nextflow (``BatchLogging``) lists ``projects/P/logs/batch_task_logs`` filtered on the task's Batch job uid and
task id (from the trace's ``native_id``, ``<jobId>/<taskId>/<uid>``), and takes severity ERROR as stderr and
everything else as stdout. Here the filter also names the run's ``run-id`` label (set by the platform's
``process.resourceLabels``) and an explicit time window, from the task's submission to its end plus a
margin: without one, Cloud Logging scans everything the project kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry_async
from google.protobuf import timestamp_pb2

from arc_core.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from services.logs.runs import RunView
from services.logs.task_logs import STDERR, STDOUT, Finished, TaskLogChunk, TaskLogs, decode_position, encode_position
from services.logs.tasks import TaskRef, batch_ids

log = logging.getLogger(__name__)

LOG_ID = "batch_task_logs"
ERROR = 500  # google.logging.type.LogSeverity.ERROR


def _rfc3339(moment: datetime) -> str:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment.astimezone(UTC))
    return ts.ToJsonString()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def task_filter(
    project: str,
    *,
    uid: str,
    task_index: str,
    run_id: str | None,
    since: datetime | None,
    until: datetime | None = None,
) -> str:
    """The Logging query for one Batch task's output (the clauses Nextflow uses, plus run and time)."""
    clauses = [
        '(resource.type="generic_task" OR resource.type="batch.googleapis.com/Job")',
        f"logName={_quote(f'projects/{project}/logs/{LOG_ID}')}",
        f"labels.job_uid={_quote(uid)}",
        f"labels.task_id={_quote(f'{uid}-group0-{task_index}')}",
    ]
    if run_id:
        clauses.append(f'labels."run-id"={_quote(run_id)}')
    if since is not None:
        clauses.append(f"timestamp>={_quote(_rfc3339(since))}")
    if until is not None:
        clauses.append(f"timestamp<={_quote(_rfc3339(until))}")
    return " AND ".join(clauses)


def _entry_text(pb: Any) -> str:
    """The line an entry carries (``textPayload``, or a JSON payload's ``message``), newline-terminated."""
    if pb.text_payload:
        text = pb.text_payload
    elif pb.HasField("json_payload"):
        fields = pb.json_payload.fields
        text = fields["message"].string_value if "message" in fields else ""
    else:
        text = ""
    return text if text.endswith("\n") else text + "\n"


class CloudLoggingTaskLogs:
    """Reads and follows Batch task logs with ``LoggingServiceV2AsyncClient`` (create it inside the loop)."""

    def __init__(
        self,
        client: Any,
        project: str,
        *,
        max_bytes: int = 1 << 20,
        page_size: int = 1000,
        max_entries: int = 50_000,
        margin: timedelta = timedelta(minutes=5),
        lag: timedelta = timedelta(seconds=10),
        poll_seconds: float = 5.0,
        timeout: float = 30.0,
        retry: retry_async.AsyncRetry | None = None,
    ) -> None:
        if not project:
            raise ValueError("Cloud Logging task logs need a project (ARC_GCP_PROJECT)")
        self.client = client
        self.project = project
        self.max_bytes = max_bytes
        self.page_size = page_size
        self.max_entries = max_entries
        self.margin = margin
        self.lag = lag
        self.poll_seconds = poll_seconds
        self.timeout = timeout
        self.retry = retry or retry_async.AsyncRetry(
            initial=0.2, maximum=2.0, multiplier=2.0, timeout=timeout, predicate=retry_async.if_transient_error
        )

    def _ids(self, task: TaskRef) -> tuple[str, str]:
        ids = batch_ids(task.native_id)
        if ids is None:
            raise FailedPrecondition(
                f"task {task.task_id or task.hash} did not run on Google Batch (native_id {task.native_id or '-'}):"
                " Cloud Logging has no output for it"
            )
        return ids[2], ids[1]

    def filter_for(self, run: RunView, task: TaskRef, *, since: datetime | None, until: datetime | None = None) -> str:
        uid, index = self._ids(task)
        # A CACHED task ran in an earlier run (a recovery's parent, or further up): its entries carry that
        # run's label, which the trace does not name. Its job uid is unique anyway.
        run_label = None if task.status == "CACHED" else run.run_id
        return task_filter(self.project, uid=uid, task_index=index, run_id=run_label, since=since, until=until)

    async def _pages(self, filter_: str, order_by: str) -> AsyncIterator[Any]:
        """Raw ``LogEntry`` protobufs matching ``filter_``, page by page."""
        request = {
            "resource_names": [f"projects/{self.project}"],
            "filter": filter_,
            "order_by": order_by,
            "page_size": self.page_size,
        }
        try:
            pager = await self.client.list_log_entries(request=request, retry=self.retry, timeout=self.timeout)
            async for entry in pager:
                yield type(entry).pb(entry)
        except gexc.GoogleAPICallError as exc:
            raise Unavailable(f"Cloud Logging: {exc.message}") from exc
        except gexc.RetryError as exc:
            raise Unavailable(f"Cloud Logging did not answer: {exc.message}") from exc

    async def get(self, run: RunView, task: TaskRef) -> TaskLogs:
        since = task.submit or run.reference_time
        until = (task.complete or datetime.now(UTC)) + self.margin
        filter_ = self.filter_for(run, task, since=since, until=until)
        # Newest first: the tail of each stream is what a failed task's reader wants, and it lets the read
        # stop as soon as both streams are full.
        parts: dict[str, list[str]] = {STDOUT: [], STDERR: []}
        size = {STDOUT: 0, STDERR: 0}
        full = {STDOUT: False, STDERR: False}
        truncated = False
        scanned = 0
        async for pb in self._pages(filter_, "timestamp desc"):
            scanned += 1
            if scanned > self.max_entries:
                truncated = True
                break
            stream = STDERR if pb.severity == ERROR else STDOUT
            if full[stream]:
                truncated = True
                if full[STDOUT] and full[STDERR]:
                    break
                continue
            text = _entry_text(pb)
            if size[stream] + len(text) > self.max_bytes:
                full[stream] = truncated = True
                continue
            parts[stream].append(text)
            size[stream] += len(text)
        return TaskLogs(
            stdout="".join(reversed(parts[STDOUT])), stderr="".join(reversed(parts[STDERR])), truncated=truncated
        )

    async def follow(self, run: RunView, task: TaskRef, after: str, finished: Finished) -> AsyncIterator[TaskLogChunk]:
        """Poll for entries after a (timestamp, insertId) cursor; late entries within ``lag`` are not missed."""
        resume = _decode_cursor(after)
        cursor = resume
        since = datetime.fromtimestamp(resume[0] / 1e9, UTC) - self.lag if resume else task.submit or run.reference_time
        seen: dict[str, int] = {}  # insertId -> timestamp (ns) of the entries sent on this stream
        while True:
            done = await finished()
            pending: list[list[str]] = []  # [stream, text, position]
            async for pb in self._pages(self.filter_for(run, task, since=since), "timestamp asc"):
                key = (pb.timestamp.ToNanoseconds(), pb.insert_id)
                if pb.insert_id in seen or (resume is not None and key <= resume):
                    continue
                seen[pb.insert_id] = key[0]
                cursor = key if cursor is None or key > cursor else cursor
                position = encode_position("c", cursor[0], cursor[1])
                stream = STDERR if pb.severity == ERROR else STDOUT
                text = _entry_text(pb)
                if pending and pending[-1][0] == stream and len(pending[-1][1]) < 64 << 10:
                    pending[-1][1] += text
                    pending[-1][2] = position
                else:
                    pending.append([stream, text, position])
            for stream, text, position in pending:
                yield TaskLogChunk(stream, text, position)
            if done:
                return
            if cursor is not None:
                # Entries can reach Cloud Logging late: look back `lag` behind the cursor, skip what was sent.
                floor = cursor[0] - int(self.lag.total_seconds() * 1e9)
                floor_time = datetime.fromtimestamp(floor / 1e9, UTC)
                since = max(since, floor_time) if since is not None else floor_time
                for insert_id in [i for i, ts in seen.items() if ts < floor - 2_000_000_000]:  # keep a margin
                    del seen[insert_id]
            await asyncio.sleep(self.poll_seconds)


def _decode_cursor(after: str) -> tuple[int, str] | None:
    parts = decode_position(after, "c")
    if parts is None:
        return None
    try:
        return int(parts[0]), ":".join(parts[1:])
    except (ValueError, IndexError):
        raise InvalidArgument("invalid after_position", [FieldViolation("after_position", "malformed")]) from None
