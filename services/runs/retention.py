"""Work-dir retention: the work dirs of runs terminal for longer than ``ARC_WORK_RETENTION_DAYS`` are deleted.

A GCS lifecycle rule cannot do it: ``matchesPrefix`` takes no wildcards, so ``runs/*/work/`` matches nothing.
So a background pass does, one leader across replicas (``services.runs.leader``, like the reconciler). Only
the work dir goes (``runs/{id}/work/``, Nextflow's intermediate files and its resume cache); inputs, results
and logs stay until the run is purged.

A work dir can serve more than one run: a recovery that reuses it resumes in its parent's work dir (its
``reused_work_dir``), and a recovery of that recovery too. A work dir is deleted only once every run it
serves has been terminal for longer than the retention, and then each of those runs gets
``work_deleted_at`` and a ``work_deleted`` entry in its history; a recovery that would reuse it is refused
with that reason (WORK_DIR_DELETED).

Order: the objects first, then the rows. A pass cut short after the delete leaves the runs unstamped, so
the next pass selects them again, finds nothing left to delete and stamps them: nothing is half-done for
long, and nothing is stamped deleted while its files are still there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from arc_core.contracts import run_layout as layout
from arc_core.errors import ArcError
from arc_core.storage import Storage
from services.runs import status as st
from services.runs.leader import LeaderLoop
from services.runs.store import RetentionCandidate, RunStore, WorkDirUser

log = logging.getLogger(__name__)

LOCK_KEY = 0x41524357  # "ARCW": the retention pass's advisory lock
ACTOR = "retention"
BATCH_SIZE = 100


@dataclass(frozen=True)
class WorkDeletion:
    """One work dir the pass deleted: whose it was, how many objects went, and the runs stamped for it."""

    owner_run_id: str
    work_dir: str
    objects: int
    run_ids: tuple[str, ...]


def retention_reason(days: int) -> str:
    return f"work dir deleted: terminal for more than {days} days (ARC_WORK_RETENTION_DAYS)"


class WorkRetention:
    def __init__(
        self,
        *,
        store: RunStore,
        storage: Storage,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        days: int,
        interval: float,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.store = store
        self.storage = storage
        self.days = days
        self.batch_size = batch_size
        self._leader = LeaderLoop(
            name="retention", key=LOCK_KEY, connect=connect, interval=interval, work=self.run_pass
        )

    async def start(self) -> None:
        if self.days > 0:  # 0 = never delete: no pass, no lock connection
            await self._leader.start()

    async def stop(self) -> None:
        await self._leader.stop()

    async def run_pass(self, now: datetime | None = None) -> list[WorkDeletion]:
        """One pass over the terminal runs that still have a work dir, oldest end first, in batches."""
        if self.days <= 0:
            return []
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.days)
        deletions: list[WorkDeletion] = []
        done: set[str] = set()
        after: tuple[datetime, str] | None = None
        while True:
            batch = await self.store.retention_candidates(ended_before=cutoff, after=after, limit=self.batch_size)
            for candidate in batch:
                if candidate.run_id in done:
                    continue
                try:
                    deletion = await self._expire(candidate, cutoff)
                except ArcError as exc:  # storage down, say: the run is selected again next pass
                    log.warning("retention: cannot delete the work dir of %s: %s", candidate.run_id, exc.message)
                    continue
                if deletion is not None:
                    deletions.append(deletion)
                    done.update(deletion.run_ids)
            if len(batch) < self.batch_size:
                break
            after = (batch[-1].ended_at, batch[-1].run_id)
        return deletions

    async def _expire(self, candidate: RetentionCandidate, cutoff: datetime) -> WorkDeletion | None:
        work_dir = candidate.reused_work_dir or self.storage.uri(layout.work_prefix(candidate.run_id))
        key = self.storage.key_of(work_dir)
        owner = _owner_of(key) if key is not None else None
        if key is None or owner is None:
            log.warning(
                "retention: work dir %s of %s is not a run's work dir here: left alone", work_dir, candidate.run_id
            )
            return None
        users = await self.store.work_dir_users(owner, work_dir)
        if any(_still_needs(user, cutoff) for user in users):
            return None  # a run resuming in it is active or ended recently: kept for it
        objects = await self.storage.delete_prefix(key)
        marked = await self.store.mark_work_deleted(
            [user.run_id for user in users], actor=ACTOR, reason=retention_reason(self.days)
        )
        log.info("retention: deleted %s (%d objects) for %s", work_dir, objects, ", ".join(marked) or owner)
        return WorkDeletion(owner_run_id=owner, work_dir=work_dir, objects=objects, run_ids=tuple(marked))


def _owner_of(key: str) -> str | None:
    """The run whose own work dir ``key`` is (``runs/{id}/work``), or None."""
    parts = key.split("/")
    if len(parts) == 3 and layout.work_prefix(parts[1]) == key:
        return parts[1]
    return None


def _still_needs(user: WorkDirUser, cutoff: datetime) -> bool:
    return user.status not in st.TERMINAL or user.ended_at is None or user.ended_at >= cutoff
