"""SQL for the Runs service (asyncpg, parameterised only).

Every status move is a compare-and-set: the row is locked, its current status checked against the
allowed sources, updated, and in the same transaction the history row is written, user stats are
kept and the change is published with ``pg_notify`` (delivered on commit).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from arc_core.errors import FailedPrecondition, NotFound
from services.runs import status as st
from services.runs.model import RUN_FIELDS, TIMESTAMP_FIELDS, Run, RunHistoryEntry

NOTIFY_CHANNEL = "arc_run_events"

# The columns of the Run model, in its order; the private ones (token digest, request id) never leave the store.
RUN_COLUMNS = RUN_FIELDS
_SELECT = ", ".join(RUN_COLUMNS)
# The same columns as a JSON object, for the history snapshot (timestamps as ISO strings).
_SNAPSHOT = "jsonb_build_object(" + ", ".join(f"'{c}', r.{c}" for c in RUN_COLUMNS) + ")"

# Fields a status report may set alongside the move; anything else is refused.
REPORTABLE_FIELDS = ("exit_code", "error_message", "error_task", "metrics", "batch_job_name", "nextflow_session_id")


class RunIdTaken(Exception):
    """Another run already has this id."""


@dataclass(frozen=True)
class NewRun:
    run_id: str
    pipeline: str
    pipeline_version: str
    user_email: str
    user_name: str | None
    gcs_path: str
    params: dict[str, Any]
    sample_count: int
    source_ngs_runs: list[str] | None
    source_project: str | None
    nextflow_session_id: str
    orchestrator_token_sha256: bytes
    request_id: str | None
    parent_run_id: str | None = None
    is_recovery: bool = False
    recovery_notes: str | None = None
    reused_work_dir: str | None = None
    name: str = ""
    description: str | None = None
    labels: dict[str, str] | None = None
    relaunched_from: str | None = None


@dataclass(frozen=True)
class RunFilter:
    status: str | None = None
    pipeline: str | None = None
    user_email: str | None = None

    def where(self, first_param: int = 1) -> tuple[str, list[object]]:
        """A WHERE clause from fixed fragments with numbered parameters, and its arguments."""
        clauses, args = [], []
        for column in ("status", "pipeline", "user_email"):
            value = getattr(self, column)
            if value is not None:
                args.append(value)
                clauses.append(f"{column} = ${first_param + len(args) - 1}")
        return (" AND ".join(clauses) or "TRUE"), args


@dataclass(frozen=True)
class MoveResult:
    run: Run
    changed: bool
    seq: int | None


@dataclass(frozen=True)
class StaleRun:
    """A run the reconciler should look at: its id, status and job."""

    run_id: str
    status: str
    batch_job_name: str | None


class RunStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def ping(self) -> bool:
        try:
            return await self.pool.fetchval("SELECT 1", timeout=2) == 1
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False

    async def get_run(self, run_id: str) -> Run | None:
        return _run_or_none(await self.pool.fetchrow(f"SELECT {_SELECT} FROM runs WHERE run_id = $1", run_id))

    async def creation_load(self, user_email: str, window_seconds: float) -> tuple[int, int, datetime | None]:
        """(active runs, runs created in the window, the oldest creation in the window) of one user; each
        count reads a few index entries (idx_runs_user_active, idx_runs_user_created_run), not the user's
        whole history."""
        row = await self.pool.fetchrow(
            """
            SELECT (SELECT count(*) FROM runs
                    WHERE user_email = $1 AND status IN ('pending', 'submitted', 'running')) AS active,
                   recent.n AS recent, recent.oldest AS oldest
            FROM (SELECT count(*) AS n, min(created_at) AS oldest FROM runs
                  WHERE user_email = $1 AND created_at > now() - make_interval(secs => $2)) AS recent
            """,
            user_email,
            window_seconds,
        )
        return int(row["active"]), int(row["recent"]), row["oldest"]

    async def runs_visible_to(self, run_ids: Collection[str], user_email: str | None) -> set[str]:
        """The ids among ``run_ids`` that ``user_email`` owns; ``None`` (an admin): the ids that exist. One query."""
        if not run_ids:
            return set()
        rows = await self.pool.fetch(
            "SELECT run_id FROM runs WHERE run_id = ANY($1::text[]) AND ($2::text IS NULL OR user_email = $2)",
            list(run_ids),
            user_email,
        )
        return {row["run_id"] for row in rows}

    async def get_by_request_id(self, user_email: str, request_id: str) -> Run | None:
        return _run_or_none(
            await self.pool.fetchrow(
                f"SELECT {_SELECT} FROM runs WHERE user_email = $1 AND request_id = $2", user_email, request_id
            )
        )

    async def release_request_id(self, run_id: str) -> None:
        """Forget a run's request id, so that a retry of a create that failed makes a new run."""
        await self.pool.execute("UPDATE runs SET request_id = NULL WHERE run_id = $1", run_id)

    async def insert_run(self, run: NewRun, *, reason: str = "created") -> Run | None:
        """Insert a pending run with its first history row; None when its request id was already used.

        Raises :class:`RunIdTaken` when another run has this id (the caller draws a new one)."""
        try:
            return await self._insert_run(run, reason)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "runs_pkey":
                raise RunIdTaken(run.run_id) from None
            raise

    async def _insert_run(self, run: NewRun, reason: str) -> Run | None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""
                INSERT INTO runs (run_id, pipeline, pipeline_version, status, user_email, user_name, gcs_path,
                    params, sample_count, source_ngs_runs, source_project, parent_run_id, is_recovery,
                    recovery_notes, reused_work_dir, nextflow_session_id, orchestrator_token_sha256, request_id,
                    name, description, labels, relaunched_from)
                VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    $18, $19, $20, $21)
                ON CONFLICT (user_email, request_id) WHERE request_id IS NOT NULL DO NOTHING
                RETURNING {_SELECT}
                """,
                run.run_id,
                run.pipeline,
                run.pipeline_version,
                run.user_email,
                run.user_name,
                run.gcs_path,
                run.params,
                run.sample_count,
                run.source_ngs_runs,
                run.source_project,
                run.parent_run_id,
                run.is_recovery,
                run.recovery_notes,
                run.reused_work_dir,
                run.nextflow_session_id,
                run.orchestrator_token_sha256,
                run.request_id,
                run.name,
                run.description,
                run.labels or {},
                run.relaunched_from,
            )
            if row is None:
                return None
            await self._record_move(conn, run.run_id, None, st.PENDING, reason, run.user_email)
            await self._bump_stats(conn, run.user_email, total_runs=1)
            return _run(row)

    async def move(
        self,
        run_id: str,
        target: str,
        *,
        reason: str,
        actor: str,
        fields: dict[str, object] | None = None,
        at: datetime | None = None,
    ) -> MoveResult:
        """Move ``run_id`` to ``target`` if allowed; repeating the current status is a no-op.

        Raises NotFound for a missing run and FailedPrecondition for a move the state machine forbids.
        """
        fields = {k: v for k, v in (fields or {}).items() if v is not None}
        unknown = set(fields) - set(REPORTABLE_FIELDS)
        if unknown:
            raise ValueError(f"not reportable: {sorted(unknown)}")
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchval("SELECT status FROM runs WHERE run_id = $1 FOR UPDATE", run_id)
            if current is None:
                raise NotFound(f"run {run_id} not found")
            if current == target:
                row = await conn.fetchrow(f"SELECT {_SELECT} FROM runs WHERE run_id = $1", run_id)
                return MoveResult(run=_run(row), changed=False, seq=None)
            if current not in st.sources_of(target):
                raise FailedPrecondition(
                    f"run {run_id} is {current}; it cannot become {target}",
                    reason="INVALID_STATUS_TRANSITION",
                    metadata={"current_status": current, "requested_status": target},
                )
            sets = ["status = $2", "updated_at = now()", f"{st.TIMESTAMP_COLUMN[target]} = COALESCE($3, now())"]
            args: list[object] = [run_id, target, at]
            for name, value in fields.items():
                args.append(value)
                sets.append(f"{name} = ${len(args)}")
            args.append(current)
            row = await conn.fetchrow(
                f"UPDATE runs SET {', '.join(sets)} WHERE run_id = $1 AND status = ${len(args)} RETURNING {_SELECT}",
                *args,
            )
            moved = _run(row)
            seq = await self._record_move(conn, run_id, current, target, reason, actor)
            if target == st.COMPLETED:
                await self._bump_stats(
                    conn, moved.user_email, successful_runs=1, total_samples_processed=moved.sample_count
                )
            return MoveResult(run=moved, changed=True, seq=seq)

    @staticmethod
    async def _record_move(
        conn: asyncpg.Connection, run_id: str, source: str | None, target: str, reason: str, actor: str
    ) -> int:
        seq = await conn.fetchval(
            f"""
            INSERT INTO run_status_history (run_id, seq, from_status, to_status, reason, actor, run_snapshot)
            SELECT r.run_id,
                   COALESCE((SELECT max(seq) FROM run_status_history h WHERE h.run_id = r.run_id), 0) + 1,
                   $2, $3, $4, $5, {_SNAPSHOT}
            FROM runs r WHERE r.run_id = $1
            RETURNING seq
            """,
            run_id,
            source,
            target,
            reason,
            actor,
        )
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"{run_id}:{seq}")
        return seq

    @staticmethod
    async def _bump_stats(
        conn: asyncpg.Connection,
        email: str,
        *,
        total_runs: int = 0,
        successful_runs: int = 0,
        total_samples_processed: int = 0,
    ) -> None:
        await conn.execute(
            """
            UPDATE users SET stats = stats || jsonb_build_object(
                'total_runs', COALESCE((stats->>'total_runs')::bigint, 0) + $2,
                'successful_runs', COALESCE((stats->>'successful_runs')::bigint, 0) + $3,
                'total_samples_processed', COALESCE((stats->>'total_samples_processed')::bigint, 0) + $4)
            WHERE email = $1
            """,
            email,
            total_runs,
            successful_runs,
            total_samples_processed,
        )

    async def history(self, run_id: str, after_seq: int = 0) -> list[RunHistoryEntry]:
        rows = await self.pool.fetch(
            "SELECT seq, from_status, to_status, reason, actor, created_at, run_snapshot"
            " FROM run_status_history WHERE run_id = $1 AND seq > $2 ORDER BY seq",
            run_id,
            after_seq,
        )
        return [
            RunHistoryEntry(
                seq=row["seq"],
                from_status=row["from_status"],
                to_status=row["to_status"],
                reason=row["reason"],
                actor=row["actor"],
                created_at=row["created_at"],
                run=snapshot_to_run(row["run_snapshot"]),
            )
            for row in rows
        ]

    async def list_runs(
        self,
        run_filter: RunFilter,
        *,
        after: tuple[datetime, str] | None,
        skip: int,
        limit: int,
    ) -> list[Run]:
        where, args = run_filter.where()
        if after is not None:
            args.extend(after)
            where += f" AND (created_at, run_id) < (${len(args) - 1}, ${len(args)})"
        args.extend([skip, limit])
        rows = await self.pool.fetch(
            f"SELECT {_SELECT} FROM runs WHERE {where}"
            f" ORDER BY created_at DESC, run_id DESC OFFSET ${len(args) - 1} LIMIT ${len(args)}",
            *args,
        )
        return [_run(row) for row in rows]

    async def count_runs(self, run_filter: RunFilter, *, exact_up_to: int) -> int:
        """Exact up to ``exact_up_to`` matches; beyond that the planner's estimate (never below the cap)."""
        where, args = run_filter.where()
        exact = await self.pool.fetchval(
            f"SELECT count(*) FROM (SELECT 1 FROM runs WHERE {where} LIMIT {int(exact_up_to) + 1}) s", *args
        )
        if exact <= exact_up_to:
            return exact
        plan = await self.pool.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM runs WHERE {where}", *args)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return max(estimate, exact)

    async def touch_user(self, email: str, display_name: str) -> None:
        """Create the caller's row on first sight; later calls refresh ``last_login_at`` (at most once a minute)."""
        await self.pool.execute(
            """
            INSERT INTO users (email, display_name) VALUES ($1, $2)
            ON CONFLICT (email) DO UPDATE SET last_login_at = now()
            WHERE users.last_login_at < now() - interval '1 minute'
            """,
            email,
            display_name,
        )

    async def get_user(self, email: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM users WHERE email = $1", email)

    async def set_token_digest(self, run_id: str, digest: bytes) -> None:
        await self.pool.execute("UPDATE runs SET orchestrator_token_sha256 = $2 WHERE run_id = $1", run_id, digest)

    async def runs_to_reconcile(self, *, quiet_seconds: float, stuck_pending_seconds: float) -> list[StaleRun]:
        """Active runs untouched for ``quiet_seconds``, and pending ones never submitted, oldest first."""
        rows = await self.pool.fetch(
            """
            SELECT run_id, status, batch_job_name FROM runs
            WHERE (status IN ('submitted', 'running') AND updated_at < now() - make_interval(secs => $1))
               OR (status = 'pending' AND updated_at < now() - make_interval(secs => $2))
            ORDER BY updated_at
            """,
            quiet_seconds,
            stuck_pending_seconds,
        )
        return [StaleRun(row["run_id"], row["status"], row["batch_job_name"]) for row in rows]

    async def token_digest(self, run_id: str) -> bytes | None:
        return await self.pool.fetchval("SELECT orchestrator_token_sha256 FROM runs WHERE run_id = $1", run_id)


def _run(values: Mapping[str, Any]) -> Run:
    """The one mapping from a runs row (an ``asyncpg.Record``) or a history snapshot (its JSON) to a Run."""
    # .get: a snapshot taken before a column existed lacks it (a Record always has every column).
    data: dict[str, Any] = {name: values.get(name) for name in RUN_FIELDS}
    for name in TIMESTAMP_FIELDS:
        if isinstance(data[name], str):  # a snapshot's timestamps are ISO strings
            data[name] = datetime.fromisoformat(data[name])
    if isinstance(data["nextflow_session_id"], uuid.UUID):
        data["nextflow_session_id"] = str(data["nextflow_session_id"])
    if data["source_ngs_runs"] is not None:
        data["source_ngs_runs"] = list(data["source_ngs_runs"])
    data["is_recovery"] = bool(data["is_recovery"])
    data["labels"] = dict(data["labels"] or {})
    data["name"] = data["name"] or ""
    return Run(**data)


def _run_or_none(row: Mapping[str, Any] | None) -> Run | None:
    return None if row is None else _run(row)


def snapshot_to_run(snapshot: Mapping[str, Any] | str) -> Run:
    """A history snapshot (JSON) back into the Run it was taken of."""
    return _run(json.loads(snapshot) if isinstance(snapshot, str) else snapshot)
