"""What the Logs service knows about a run, and the port through which it asks the Runs service.

Access control comes from Runs: every lookup is made with the caller's identity, so a stranger's run is
NOT_FOUND here exactly as it is there. Once a caller's access is settled, a stream follows the run's status
as the Logs service itself (identity ``None``): a caller's forwarded token expires (IAP's after about ten
minutes) while the stream goes on. Nothing here imports grpc.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from arc_core.contracts.names import check_run_id as check_run_id  # the one rule, for this room
from arc_core.contracts.run_status import TERMINAL
from arc_core.errors import ArcError, NotFound, PermissionDenied, Unauthenticated
from arc_core.identity import Identity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunView:
    """The fields of a Run the Logs service uses."""

    run_id: str
    status: str
    """``pending`` ... ``cancelled``."""
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    """When the run became terminal (completed/failed/cancelled_at)."""
    reused_work_dir: str = ""
    """A recovery's work dir (the parent's), as a URI or path; empty otherwise."""
    batch_job_name: str = ""
    parent_run_id: str = ""
    purged_at: datetime | None = None
    """When the run's files were purged (PurgeRun): its logs are gone for good."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def reference_time(self) -> datetime | None:
        """A moment shortly before the log's first line (its lines carry no year)."""
        return self.started_at or self.created_at


class RunsPort(Protocol):
    """What Logs needs from the Runs service; both calls raise ``NotFound`` for a stranger's run.
    ``identity`` None: as the Logs service itself (see the module docstring)."""

    async def get_run(self, identity: Identity | None, run_id: str) -> RunView: ...

    def watch_run(self, identity: Identity | None, run_id: str) -> AsyncIterator[RunView]:
        """The current run, then the run after each status change, ending after a terminal state."""
        ...


class RunTracker:
    """The latest state of a run while a stream follows it.

    Status changes are pushed by WatchRun (no polling per follower); if the watch breaks, the run is polled
    with GetRun every ``poll_seconds`` until a watch can be re-established. ``changed`` is set on each
    change, so a follower can wake at once when the run ends.

    ``as_service``: follow as the Logs service itself (``identity`` has been checked already); if Runs
    refuses the service's credential (a deployment without one), follow as ``identity`` instead.
    """

    def __init__(
        self,
        runs: RunsPort,
        identity: Identity | None,
        run: RunView,
        *,
        poll_seconds: float = 5.0,
        as_service: bool = False,
    ) -> None:
        self.runs = runs
        self.identity = identity
        self.run = run
        self.poll_seconds = poll_seconds
        self.as_service = as_service
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def _caller(self) -> Identity | None:
        return None if self.as_service else self.identity

    def _refused(self, exc: ArcError) -> bool:
        """Whether ``exc`` refuses the service's own credential; if so, go on as the caller."""
        if not self.as_service or not isinstance(exc, Unauthenticated | PermissionDenied):
            return False
        log.warning(
            "Runs refused the Logs service's credential (%s); following %s as the caller", exc.message, self.run.run_id
        )
        self.as_service = False
        return True

    async def __aenter__(self) -> RunTracker:
        if not self.run.terminal:
            self._task = asyncio.create_task(self._follow(), name=f"track-{self.run.run_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _update(self, run: RunView) -> None:
        if run != self.run:
            self.run = run
            self.changed.set()

    async def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, waking early when the run changes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)
        self.changed.clear()

    async def _follow(self) -> None:
        while not self.run.terminal:
            try:
                async for run in self.runs.watch_run(self._caller, self.run.run_id):
                    self._update(run)
                if self.run.terminal:
                    return
            except NotFound:
                return  # the run vanished: leave the last state; the follower's own reads decide
            except ArcError as exc:
                if self._refused(exc):
                    continue
                log.info("watching %s failed (%s); polling instead", self.run.run_id, exc.message)
            except Exception:
                log.exception("watching %s failed; polling instead", self.run.run_id)
            await asyncio.sleep(self.poll_seconds)
            try:
                self._update(await self.runs.get_run(self._caller, self.run.run_id))
            except ArcError as exc:
                self._refused(exc)
