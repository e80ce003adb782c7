"""The Logs domain: the read side of everything a run prints. No gRPC here.

Every method takes the caller's identity and first asks Runs for the run with it, so access follows the
Runs rules (owner or admin; a stranger's run is NotFound) without Logs keeping any user data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, tzinfo

from arc_core.errors import FailedPrecondition, InvalidArgument
from arc_core.identity import Identity
from arc_core.paging import paginate, query_key
from arc_core.storage import Storage
from services.logs.archive import archive_name, log_archive
from services.logs.log_parser import LogEntry
from services.logs.runs import RunsPort, RunTracker, RunView, check_run_id
from services.logs.task_logs import TaskLogBackend, TaskLogChunk, TaskLogs
from services.logs.tasks import TaskRef, TaskStore
from services.logs.trace_parser import ProcessProgress, TaskRecord, filter_tasks
from services.logs.workflow_log import LogOptions, LogPage, WorkflowLogReader


@dataclass(frozen=True)
class TaskPage:
    tasks: list[TaskRecord]
    next_page_token: str
    total: int
    progress: list[ProcessProgress]
    truncated_rows: int = 0
    """Trace rows past the row limit: in ``progress``, not in ``tasks`` or ``total``."""


class LogsService:
    def __init__(
        self,
        *,
        storage: Storage,
        runs: RunsPort,
        task_logs: TaskLogBackend,
        tz: tzinfo = UTC,
        log_options: LogOptions | None = None,
        task_store: TaskStore | None = None,
        status_poll_seconds: float = 5.0,
    ) -> None:
        self.storage = storage
        self.runs = runs
        self.task_logs = task_logs
        self.workflow_log = WorkflowLogReader(storage, options=log_options, tz=tz)
        self.tasks = task_store or TaskStore(storage, tz=tz)
        self.status_poll_seconds = status_poll_seconds

    async def _run(self, caller: Identity, run_id: str) -> RunView:
        run = await self.runs.get_run(caller, check_run_id(run_id))
        if run.purged_at is not None:  # as Runs answers for a purged run's files (REST 410)
            raise FailedPrecondition(
                f"run {run.run_id} was purged at {run.purged_at.isoformat(timespec='seconds')}: its logs are deleted",
                reason="RUN_PURGED",
                metadata={"purged_at": run.purged_at.isoformat(timespec="seconds")},
            )
        return run

    def _tracker(self, caller: Identity, run: RunView) -> RunTracker:
        """Follows ``run`` (which ``caller`` may see) as the Logs service: the caller's token may expire first."""
        return RunTracker(self.runs, caller, run, poll_seconds=self.status_poll_seconds, as_service=True)

    # --- workflow log -----------------------------------------------------------------------------

    async def get_workflow_log(self, caller: Identity, run_id: str, *, offset: int = 0, limit: int = 0) -> LogPage:
        """Entries of ``logs/nextflow.log`` from ``offset``; an empty page while there is no log yet."""
        limit = self.workflow_log.check(offset, limit)
        run = await self._run(caller, run_id)
        return await self.workflow_log.page(run, offset, limit)

    async def stream_workflow_log(
        self, caller: Identity, run_id: str, *, offset: int = 0
    ) -> AsyncIterator[list[LogEntry]]:
        """Checks access now, then returns batches of entries from ``offset`` until the log is final."""
        self.workflow_log.check(offset)
        run = await self._run(caller, run_id)

        async def batches() -> AsyncIterator[list[LogEntry]]:
            async with self._tracker(caller, run) as tracker:
                async for batch in self.workflow_log.follow(tracker, offset):
                    yield batch

        return batches()

    # --- tasks --------------------------------------------------------------------------------------

    async def list_tasks(
        self,
        caller: Identity,
        run_id: str,
        *,
        status: str = "",
        process: str = "",
        page_size: int = 0,
        page_token: str = "",
        skip: int = 0,
    ) -> TaskPage:
        """A page of the trace's tasks (filtered), their total, and progress over the whole run."""
        if skip < 0:
            raise InvalidArgument("skip must not be negative")
        run = await self._run(caller, run_id)
        query = query_key("ListTasks", run.run_id, status.strip().upper(), process.strip())
        trace = await self.tasks.trace(run.run_id, final=run.terminal)
        rows = filter_tasks(trace.tasks if trace else (), status or None, process or None)
        page = paginate(rows, page_size, page_token, query, skip=skip)
        progress = await self.tasks.progress(run, trace)
        truncated = trace.truncated_rows if trace else 0
        return TaskPage(page.items, page.next_page_token, page.total_size, progress, truncated)

    # --- task logs ----------------------------------------------------------------------------------

    async def _task(self, caller: Identity, run_id: str, task_id: str) -> tuple[RunView, TaskRef]:
        if not task_id or len(task_id) > 64:
            raise InvalidArgument("invalid task_id")
        run = await self._run(caller, run_id)
        return run, await self.tasks.find(run, task_id)

    async def get_task_logs(self, caller: Identity, run_id: str, task_id: str) -> TaskLogs:
        """The task's stdout and stderr (their last bytes when long, with ``truncated``)."""
        run, task = await self._task(caller, run_id, task_id)
        return await self.task_logs.get(run, task)

    async def stream_task_logs(
        self, caller: Identity, run_id: str, task_id: str, *, after: str = ""
    ) -> AsyncIterator[TaskLogChunk]:
        """Checks access and finds the task now, then returns its output as written, ending with the task."""
        run, task = await self._task(caller, run_id, task_id)

        async def chunks() -> AsyncIterator[TaskLogChunk]:
            async with self._tracker(caller, run) as tracker:

                async def finished() -> bool:
                    if task.finished or tracker.run.terminal:
                        return True
                    current = await self.tasks.find(tracker.run, task.task_id or task.hash or "")
                    return current.finished

                async for chunk in self.task_logs.follow(run, task, after, finished):
                    yield chunk

        return chunks()

    # --- archive ----------------------------------------------------------------------------------

    async def log_archive(self, caller: Identity, run_id: str) -> tuple[str, AsyncIterator[bytes]]:
        """The archive's file name and its bytes (a zip of the log files that exist)."""
        run = await self._run(caller, run_id)
        return archive_name(run.run_id), log_archive(self.storage, run.run_id)
