"""Settles runs whose job ended (or vanished) without the orchestrator's final report.

One leader across replicas (``services.runs.leader``): the loop holds a PostgreSQL advisory lock on a
dedicated connection while it works; other replicas wait for it. Each fix moves the run through the state
machine with the job's real outcome and a reason, so the history tells what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from arc_core.errors import ArcError, FailedPrecondition
from services.runs import status as st
from services.runs.executors.base import Executor, JobState, JobStatus
from services.runs.leader import LeaderLoop
from services.runs.store import RunStore

log = logging.getLogger(__name__)

LOCK_KEY = 0x41524352  # "ARCR": the reconciler's advisory lock

# A pending run older than this never got submitted (the platform stopped in between).
STUCK_PENDING_SECONDS = 600


@dataclass(frozen=True)
class Fix:
    run_id: str
    from_status: str
    to_status: str
    reason: str


class Reconciler:
    def __init__(
        self,
        *,
        store: RunStore,
        executor: Executor,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        interval: float,
        grace: float,
    ) -> None:
        self.store = store
        self.executor = executor
        self.interval = interval
        # Leave the orchestrator this long after the run's last update to report the outcome itself.
        self.grace = grace
        # `reconcile_once` looked up at each pass (tests count the passes of each replica).
        self._leader = LeaderLoop(
            name="reconciler", key=LOCK_KEY, connect=connect, interval=interval, work=lambda: self.reconcile_once()
        )

    async def start(self) -> None:
        await self._leader.start()

    async def stop(self) -> None:
        await self._leader.stop()

    async def reconcile_once(self) -> list[Fix]:
        """One pass over the active runs; returns what it changed."""
        stale = await self.store.runs_to_reconcile(
            quiet_seconds=self.grace, stuck_pending_seconds=float(STUCK_PENDING_SECONDS)
        )
        fixes: list[Fix] = []
        for run in stale:
            try:
                fixes.extend(await self._settle(run.run_id, run.status, run.batch_job_name))
            except ArcError as exc:
                log.warning("reconciler: cannot settle %s: %s", run.run_id, exc.message)
        return fixes

    async def _settle(self, run_id: str, status: str, job_name: str | None) -> list[Fix]:
        if status == st.PENDING or not job_name:
            return await self._moves(run_id, status, [st.FAILED], "the run was never submitted (interrupted)", {})
        job = await self.executor.status(job_name)
        if job.state is JobState.QUEUED:
            return []
        if job.state is JobState.RUNNING:
            return await self._moves(run_id, status, [st.RUNNING], f"job {job_name} is running", {})
        path = [st.RUNNING] if status == st.SUBMITTED else []
        if job.state is JobState.SUCCEEDED:
            return await self._moves(
                run_id, status, [*path, st.COMPLETED], f"job {job_name} succeeded", {"exit_code": job.exit_code or 0}
            )
        if job.state is JobState.FAILED:
            return await self._moves(run_id, status, [st.FAILED], _failure_reason(job_name, job), _failure_fields(job))
        return await self._moves(
            run_id, status, [st.CANCELLED], f"job {job_name} is gone ({job.message or 'deleted'})", {}
        )

    async def _moves(
        self, run_id: str, status: str, targets: list[str], reason: str, fields: dict[str, object]
    ) -> list[Fix]:
        fixes: list[Fix] = []
        for target in targets:
            if target == status:
                continue
            try:
                result = await self.store.move(
                    run_id,
                    target,
                    reason=f"reconciler: {reason}",
                    actor="reconciler",
                    fields=fields if target in st.TERMINAL else {},
                )
            except FailedPrecondition:
                return fixes  # the orchestrator's own report got there first
            if result.changed:
                fixes.append(Fix(run_id, status, target, reason))
                log.info("reconciler: %s %s -> %s (%s)", run_id, status, target, reason)
            status = target
        return fixes


def _failure_reason(job_name: str, job: JobStatus) -> str:
    exit_text = f" with exit code {job.exit_code}" if job.exit_code is not None else ""
    return f"job {job_name} failed{exit_text}" + (f": {job.message}" if job.message else "")


def _failure_fields(job: JobStatus) -> dict[str, object]:
    return {
        "exit_code": job.exit_code,
        "error_message": "The orchestrator ended without reporting"
        + (f" (exit code {job.exit_code})" if job.exit_code is not None else "")
        + (f": {job.message}" if job.message else ""),
    }
