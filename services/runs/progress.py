"""Task progress for WatchRun: one poller per watched run, shared by all of its watchers.

Progress comes from the run's trace, which the Logs service owns; Runs asks it (ListTasks, one row,
whose ``progress`` covers the whole trace) every few seconds while someone watches the run, and pushes
a new snapshot only when the counts change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from arc_core.errors import ArcError
from arc_core.identity import Identity

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


ProgressSource = Callable[[Identity, str], Awaitable[tuple[ProcessCounts, ...]]]


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

    def subscribe(self, run_id: str, identity: Identity) -> ProgressSubscription:
        """Watchers of one run share a poller; it polls as the first watcher (who may see the run)."""
        sub = ProgressSubscription(run_id)
        self._subs.setdefault(run_id, set()).add(sub)
        if run_id not in self._pollers:
            self._pollers[run_id] = asyncio.create_task(self._poll(run_id, identity), name=f"progress-{run_id}")
        return sub

    def unsubscribe(self, sub: ProgressSubscription) -> None:
        subs = self._subs.get(sub.run_id)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.run_id]
            task = self._pollers.pop(sub.run_id, None)
            if task is not None:
                task.cancel()

    async def stop(self) -> None:
        tasks = list(self._pollers.values())
        self._pollers.clear()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self, run_id: str, identity: Identity) -> None:
        last: tuple[ProcessCounts, ...] = ()
        version = 0
        while run_id in self._subs:
            try:
                snapshot = await self.source(identity, run_id)
            except ArcError as exc:  # no trace yet, Logs down: progress is optional, status is not
                log.debug("progress of %s unavailable: %s", run_id, exc.message)
                snapshot = last
            if snapshot and snapshot != last:
                last, version = snapshot, version + 1
                for sub in self._subs.get(run_id, ()):
                    sub.snapshot, sub.version = snapshot, version
                    sub.changed.set()
            await asyncio.sleep(self.interval)
