"""One leader across replicas for a background loop (the reconciler, the retention pass).

The leader holds a PostgreSQL advisory lock on a dedicated connection while it works; the other replicas
block on the same lock and take over when the leader's connection goes away (a stop, a crash, a network
cut: the server releases a session lock with its session). Before each pass the leader checks that its
lock connection is still alive, so a replica whose connection died silently stops working rather than run
beside the new leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

LOCK_CHECK_TIMEOUT = 5.0


class LeaderLoop:
    """Runs ``work()`` every ``interval`` seconds, only while this replica holds advisory lock ``key``."""

    def __init__(
        self,
        *,
        name: str,
        key: int,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        interval: float,
        work: Callable[[], Awaitable[object]],
    ) -> None:
        self.name = name
        self.key = key
        self._connect = connect
        self.interval = interval
        self._work = work
        self._task: asyncio.Task[None] | None = None
        self.leading = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._connect()
                # Blocks until the current leader's connection goes away (it never returns false).
                await conn.execute("SELECT pg_advisory_lock($1)", self.key)
                self.leading = True
                log.info("%s: this replica leads", self.name)
                while True:
                    # Still ours? A dead lock connection means another replica may lead by now.
                    await conn.fetchval("SELECT 1", timeout=LOCK_CHECK_TIMEOUT)
                    await self._work()
                    await asyncio.sleep(self.interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: pass failed; retrying", self.name)
                await asyncio.sleep(self.interval)
            finally:
                self.leading = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
