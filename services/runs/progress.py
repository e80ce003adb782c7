"""Task progress for WatchRun: one poller per watched run, shared by all of its watchers.

Progress comes from the run's trace, which the Logs service owns; Runs asks it (ListTasks, one row,
whose ``progress`` covers the whole trace) every few seconds while someone watches the run, and pushes
a new snapshot only when the counts change.

The poller serves every watcher of the run, so it asks as the Runs service itself (the source carries the
service credential), never as a watcher: a watcher's forwarded token expires and a watcher may leave.
Whether a watcher may see the run is checked once, by WatchRun, before it subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from arc_core.errors import ArcError, PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessCounts:
    process: str
    submitted: int
    running: int
    succeeded: int
    cached: int
    failed: int
    total: int
    aborted: int = 0


ProgressSource = Callable[[str], Awaitable[tuple[ProcessCounts, ...]]]
"""Counts of a run's tasks by process, asked as the service (not as any watcher)."""


class ProgressSubscription:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.version = 0
        self.snapshot: tuple[ProcessCounts, ...] = ()
        self.changed = asyncio.Event()


class ProgressFeed:
    def __init__(self, source: ProgressSource, *, interval: float) -> None:
        self.source = source
        self.interval = interval
        self._subs: dict[str, set[ProgressSubscription]] = {}
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._latest: dict[str, tuple[int, tuple[ProcessCounts, ...]]] = {}
        """The last snapshot of each polled run, for watchers who join after it was taken."""

    def subscribe(self, run_id: str) -> ProgressSubscription:
        """Watchers of one run share a poller, which lives while any of them stays; the caller has checked
        that the watcher may see the run."""
        sub = ProgressSubscription(run_id)
        self._subs.setdefault(run_id, set()).add(sub)
        latest = self._latest.get(run_id)
        if latest is not None:  # a later watcher starts from what the others have already seen
            sub.version, sub.snapshot = latest
            sub.changed.set()
        if run_id not in self._pollers:
            self._pollers[run_id] = asyncio.create_task(self._poll(run_id), name=f"progress-{run_id}")
        return sub

    def unsubscribe(self, sub: ProgressSubscription) -> None:
        subs = self._subs.get(sub.run_id)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.run_id]
            self._latest.pop(sub.run_id, None)
            task = self._pollers.pop(sub.run_id, None)
            if task is not None:
                task.cancel()

    async def stop(self) -> None:
        tasks = list(self._pollers.values())
        self._pollers.clear()
        self._latest.clear()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self, run_id: str) -> None:
        last: tuple[ProcessCounts, ...] = ()
        version = 0
        warned = False
        while run_id in self._subs:
            try:
                snapshot = await self.source(run_id)
            except (Unauthenticated, PermissionDenied) as exc:  # a deployment problem: say so, once per poll
                if not warned:
                    log.warning("progress of %s refused to the Runs service: %s", run_id, exc.message)
                    warned = True
                snapshot = last
            except ArcError as exc:  # no trace yet, Logs down: progress is optional, status is not
                log.debug("progress of %s unavailable: %s", run_id, exc.message)
                snapshot = last
            if snapshot and snapshot != last:
                last, version = snapshot, version + 1
                self._latest[run_id] = (version, snapshot)
                for sub in self._subs.get(run_id, ()):
                    sub.snapshot, sub.version = snapshot, version
                    sub.changed.set()
            await asyncio.sleep(self.interval)
