"""Fan-out of run status changes: one LISTEN connection per process, any number of watchers.

Writers publish ``run_id:seq`` with ``pg_notify`` inside the moving transaction. The hub holds one
dedicated connection listening on the channel; for each notification about a watched run it wakes
that run's watchers, which then read what they missed from the history table (one query per
notification per run, not per watcher: :meth:`RunEventHub.events_after` shares one fetch per run).
When the LISTEN connection drops, the hub reconnects and wakes every watcher so none misses a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from services.runs.model import RunHistoryEntry
from services.runs.store import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


class Subscription:
    """A watcher's mailbox: the highest sequence announced for its run, and a wake-up event."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.announced = 0
        self.wake = asyncio.Event()

    def notify(self, seq: int) -> None:
        self.announced = max(self.announced, seq)
        self.wake.set()


@dataclass
class _History:
    rows: list[RunHistoryEntry]
    epoch: int

    @property
    def max_seq(self) -> int:
        return self.rows[-1].seq if self.rows else 0


HistoryLoader = Callable[[str], Awaitable[list[RunHistoryEntry]]]


class RunEventHub:
    """One LISTEN connection fanning out to per-run subscriptions, with a shared per-run history."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], load_history: HistoryLoader) -> None:
        self._connect = connect
        self._load_history = load_history
        self._history: dict[str, _History] = {}
        self._loading: dict[str, asyncio.Future[_History]] = {}
        self._announced: dict[str, int] = {}
        # Bumped on every (re)connect: history fetched in an older epoch may have missed notifications.
        self._epoch = 0
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._ready = asyncio.Event()

    @property
    def watcher_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="run-event-hub")
        await asyncio.wait_for(self._ready.wait(), timeout=30)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()
        for subs in self._subs.values():
            for sub in subs:
                sub.wake.set()

    def subscribe(self, run_id: str) -> Subscription:
        sub = Subscription(run_id)
        self._subs[run_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.run_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.run_id]
                self._history.pop(sub.run_id, None)
                self._announced.pop(sub.run_id, None)

    async def events_after(self, run_id: str, after_seq: int, *, at_least: int = 0) -> list[RunHistoryEntry]:
        """History entries of a watched run with ``seq > after_seq``, known to include ``at_least``.

        Callers must hold a subscription for ``run_id`` (taken before the first call), so that every
        change after a fetch is announced. Concurrent callers share one query.
        """
        entry = self._history.get(run_id)
        if entry is None or entry.epoch != self._epoch or entry.max_seq < max(at_least, self._announced.get(run_id, 0)):
            entry = await self._refresh(run_id)
        return [row for row in entry.rows if row.seq > after_seq]

    async def _refresh(self, run_id: str) -> _History:
        pending = self._loading.get(run_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_History] = asyncio.get_running_loop().create_future()
        self._loading[run_id] = future
        try:
            epoch = self._epoch
            entry = _History(rows=await self._load_history(run_id), epoch=epoch)
            if run_id in self._subs:
                self._history[run_id] = entry
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._loading[run_id]

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        run_id, _, seq_text = payload.rpartition(":")
        subs = self._subs.get(run_id)
        if not subs:
            return
        seq = int(seq_text)
        self._announced[run_id] = max(self._announced.get(run_id, 0), seq)
        for sub in subs:
            sub.notify(seq)

    def _on_lost(self, _conn: object) -> None:
        self._lost.set()

    async def _listen_once(self) -> None:
        self._lost.clear()
        conn = await self._connect()
        self._conn = conn
        conn.add_termination_listener(self._on_lost)
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self._epoch += 1
        # Changes may have happened while we were not listening: let every watcher re-read.
        for subs in self._subs.values():
            for sub in subs:
                sub.wake.set()
        self._ready.set()
        await self._lost.wait()
        raise ConnectionError("LISTEN connection lost")

    async def _run(self) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((OSError, asyncpg.PostgresError, ConnectionError)),
            wait=wait_exponential(multiplier=0.2, max=5),
        ):
            with attempt:
                try:
                    await self._listen_once()
                finally:
                    await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
