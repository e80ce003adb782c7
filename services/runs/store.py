"""SQL for the Runs service (asyncpg, parameterised only).

Every status move is a compare-and-set: the row is locked, its current status checked against the
allowed sources, updated, and in the same transaction the history row is written, user stats are
kept and the change is published with ``pg_notify`` (delivered on commit).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from arc_core.errors import FailedPrecondition, NotFound
from services.runs import status as st
from services.runs.model import RUN_FIELDS, TIMESTAMP_FIELDS, Run, RunHistoryEntry, RunLink, RunTimelineEntry, User

NOTIFY_CHANNEL = "arc_run_events"

# The columns of the Run model, in its order; the private ones (token digest, request id) never leave the store.
RUN_COLUMNS = RUN_FIELDS
_SELECT = ", ".join(RUN_COLUMNS)
# The same columns as a JSON object, for the history snapshot (timestamps as ISO strings).
_SNAPSHOT = "jsonb_build_object(" + ", ".join(f"'{c}', r.{c}" for c in RUN_COLUMNS) + ")"

# A name search uses the trigram index when the planner expects under this share of runs to match: for a
# page (50 rows) reading in created_at order wins from about 1%, for the capped count (10,001 rows) from
# about an eighth (bench/bench_list_runs_search.py and its --explain).
PAGE_TRIGRAMS_BELOW = 0.01
COUNT_TRIGRAMS_BELOW = 0.125
# Fields UpdateRun may change; anything else is refused.
UPDATABLE_FIELDS = ("name", "description", "labels")
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
    name: str | None = None
    """Runs whose name contains this, in any case."""
    labels: tuple[tuple[str, str], ...] = ()
    """Runs that carry every one of these labels (key, value), sorted by key."""
    show_purged: bool = False

    @property
    def searches(self) -> bool:
        """Whether the filter has terms whose best plan depends on the values (name, labels)."""
        return bool(self.name or self.labels)

    def where(self, first_param: int = 1, *, trigrams: bool = True) -> tuple[str, list[object]]:
        """A WHERE clause from fixed fragments with numbered parameters, and its arguments.

        ``trigrams=False`` leaves out the trigram test, which only serves the GIN index (the LIKE decides):
        for a term in many runs, reading in created_at order is faster, and the planner estimates the LIKE
        well (statistics on ``lower(name)``) but a set of trigrams as if each were independent of the others,
        so far too rare."""
        clauses: list[str] = []
        args: list[object] = []

        def param(value: object) -> str:
            args.append(value)
            return f"${first_param + len(args) - 1}"

        for column in ("status", "pipeline", "user_email"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = {param(value)}")
        if self.name:
            # The trigram index (migration 0005) narrows; the LIKE decides. Under 3 characters a term has
            # no trigram, so the LIKE alone decides (on the created_at order, or the user's runs).
            if len(self.name) >= 3 and trigrams:
                clauses.append(f"name_trigrams @> arc_name_trigrams({param(self.name)}::text)")
            clauses.append(name_like(param(like_literal(self.name))))
        if self.labels:
            clauses.append(f"labels @> {param(dict(self.labels))}::jsonb")
        if not self.show_purged:
            clauses.append("purged_at IS NULL")
        return (" AND ".join(clauses) or "TRUE"), args


def name_like(param: str) -> str:
    """The test that a name contains the LIKE literal in ``param`` (a ``$n``), in any case."""
    return f"lower(name) LIKE '%' || lower({param}::text) || '%' ESCAPE '\\'"


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern with ``ESCAPE '\\'``: its ``%``, ``_`` and ``\\`` match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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

    async def record_action(
        self, run_id: str, kind: str, *, actor: str, reason: str, conn: asyncpg.Connection | None = None
    ) -> None:
        """An entry in the run's history that moves no status (``updated``, ``work_deleted``, ``purged``),
        stamped with the run's status at the time. Pass ``conn`` to write it in the caller's transaction."""
        await (conn or self.pool).execute(
            """
            INSERT INTO run_actions (run_id, kind, actor, reason, status)
            SELECT run_id, $2, $3, $4, status FROM runs WHERE run_id = $1
            """,
            run_id,
            kind,
            actor,
            reason,
        )

    async def list_runs(
        self,
        run_filter: RunFilter,
        *,
        after: tuple[datetime, str] | None,
        skip: int,
        limit: int,
    ) -> list[Run]:
        async with self._filter_connection(run_filter) as conn:
            trigrams = await self._trigrams_pay(conn, run_filter, below_share=PAGE_TRIGRAMS_BELOW)
            where, args = run_filter.where(trigrams=trigrams)
            if after is not None:
                args.extend(after)
                where += f" AND (created_at, run_id) < (${len(args) - 1}, ${len(args)})"
            args.extend([skip, limit])
            sql = (
                f"SELECT {_SELECT} FROM runs WHERE {where}"
                f" ORDER BY created_at DESC, run_id DESC OFFSET ${len(args) - 1} LIMIT ${len(args)}"
            )
            rows = await conn.fetch(sql, *args)
        return [_run(row) for row in rows]

    async def count_runs(self, run_filter: RunFilter, *, exact_up_to: int) -> int:
        """Exact up to ``exact_up_to`` matches; beyond that the planner's estimate (never below the cap)."""
        async with self._filter_connection(run_filter) as conn:
            trigrams = await self._trigrams_pay(conn, run_filter, below_share=COUNT_TRIGRAMS_BELOW)
            where, args = run_filter.where(trigrams=trigrams)
            exact = await conn.fetchval(
                f"SELECT count(*) FROM (SELECT 1 FROM runs WHERE {where} LIMIT {int(exact_up_to) + 1}) s", *args
            )
            if exact <= exact_up_to:
                return exact
            where, args = run_filter.where(trigrams=False)  # the estimate the LIKE's statistics give
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM runs WHERE {where}", *args)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return max(estimate, exact)

    async def _trigrams_pay(self, conn: asyncpg.Connection, run_filter: RunFilter, *, below_share: float) -> bool:
        """Whether to narrow a name search through the trigram index: when the planner's estimate of the
        share of names that match (the LIKE alone) is below ``below_share``. Above it the matches are
        dense enough that reading in created_at (or the user's) order finds them sooner."""
        if not run_filter.name or len(run_filter.name) < 3:
            return False
        plan = await conn.fetchval(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM runs WHERE {name_like('$1')}", like_literal(run_filter.name)
        )
        total = await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'runs'::regclass")
        if not total or total <= 0:  # never analysed: no estimate to go by
            return True
        return float(plan[0]["Plan"]["Plan Rows"]) / float(total) < below_share

    @contextlib.asynccontextmanager
    async def _filter_connection(self, run_filter: RunFilter) -> AsyncIterator[asyncpg.Connection]:
        """A connection for a listing. A name or label search is planned for its values every time: a term
        in half the runs is best read in created_at order, a rare one through its GIN index, and the
        generic plan PostgreSQL may switch a prepared statement to after five runs knows neither."""
        async with self.pool.acquire() as conn:
            if not run_filter.searches:
                yield conn
                return
            async with conn.transaction():
                await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
                yield conn

    # --- names and labels (UpdateRun) ------------------------------------------------------------

    async def update_names(
        self,
        run_id: str,
        values: Mapping[str, object],
        *,
        actor: str,
        reason_of: Callable[[Mapping[str, tuple[object, object]]], str],
    ) -> tuple[Run, list[str]]:
        """Set the fields of ``values`` (any of :data:`UPDATABLE_FIELDS`) that differ from the row, bump
        ``updated_at`` and write an ``updated`` action whose reason is ``reason_of({field: (old, new)})``,
        all in one transaction. Nothing changes (no action, no bump) when every value is already set.
        Returns the run and the fields changed. Publishes nothing: no status moved."""
        unknown = set(values) - set(UPDATABLE_FIELDS)
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(f"SELECT {_SELECT} FROM runs WHERE run_id = $1 FOR UPDATE", run_id)
            if current is None:
                raise NotFound(f"run {run_id} not found")
            changes = {
                name: (current[name], value) for name, value in values.items() if _stored(current[name]) != value
            }
            if not changes:
                return _run(current), []
            sets: list[str] = ["updated_at = now()"]
            args: list[object] = [run_id]
            for name, (_old, value) in changes.items():
                args.append(value)
                sets.append(f"{name} = ${len(args)}")
            row = await conn.fetchrow(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = $1 RETURNING {_SELECT}", *args)
            await self.record_action(run_id, "updated", actor=actor, reason=reason_of(changes), conn=conn)
            return _run(row), list(changes)

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

    # --- users and system figures (GetCurrentUser, UpdatePreferences, GetSystemInfo) ---

    async def get_user(self, email: str) -> User | None:
        """The user's row, the stats kept with it, and their runs by status (a GROUP BY over their runs
        only, which idx_runs_user_email_created_at finds)."""
        return _user_or_none(await self.pool.fetchrow(_USER_SELECT + " WHERE u.email = $1", email))

    async def set_preferences(self, email: str, preferences: dict[str, Any]) -> User | None:
        """Replace the user's preferences; the user as stored after, None when there is no such user."""
        return _user_or_none(
            await self.pool.fetchrow(
                "WITH u AS (UPDATE users SET preferences = $2 WHERE email = $1 RETURNING *) " + _USER_FROM_CTE,
                email,
                preferences,
            )
        )

    async def count_runs_by_status(self) -> dict[str, int]:
        """Every run by status (purged ones included), zeros included: one count per status on its range of
        idx_runs_status_created_at, an index-only scan once the table is vacuumed. It still reads every
        run's index entry (0.1 s at a million vacuumed, 0.2 s for a GROUP BY: bench/bench_system_info.py),
        so the caller caches it."""
        rows = await self.pool.fetch(
            "SELECT s.status, (SELECT count(*) FROM runs r WHERE r.status = s.status) AS n"
            " FROM unnest($1::text[]) AS s(status)",
            list(st.STATUSES),
        )
        return {row["status"]: int(row["n"]) for row in rows}

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

    # --- history, purge and work-dir retention (GetRunHistory, PurgeRun, services/runs/retention.py) ---

    async def timeline(self, run_id: str) -> list[RunTimelineEntry]:
        """The status moves and the actions of a run, oldest first (a move before an action at the same time:
        a move and the action it led to share their transaction's ``now()``)."""
        rows = await self.pool.fetch(
            """
            SELECT kind, created_at, actor, reason, from_status, to_status FROM (
                SELECT 'status' AS kind, created_at, COALESCE(actor, '') AS actor, COALESCE(reason, '') AS reason,
                       from_status, to_status, 0 AS source, seq::bigint AS n
                FROM run_status_history WHERE run_id = $1
                UNION ALL
                SELECT kind, created_at, actor, reason, NULL, status, 1, id
                FROM run_actions WHERE run_id = $1
            ) entries
            ORDER BY created_at, source, n
            """,
            run_id,
        )
        return [
            RunTimelineEntry(
                kind=row["kind"],
                time=row["created_at"],
                actor=row["actor"],
                reason=row["reason"],
                from_status=row["from_status"],
                to_status=row["to_status"],
            )
            for row in rows
        ]

    async def links(self, run: Run, viewer: str | None) -> list[RunLink]:
        """The runs ``run`` came from and the ones made from it, that ``viewer`` owns (``None``: any, for an
        admin). One round trip; each branch reads its index (the primary key, idx_runs_parent_run_id,
        idx_runs_relaunched_from)."""
        rows = await self.pool.fetch(
            """
            SELECT relation, run_id, created_at FROM (
                SELECT CASE WHEN run_id = $2 THEN 'recovers' ELSE 'relaunches' END AS relation, run_id,
                       created_at, 0 AS rank
                FROM runs WHERE run_id = ANY(ARRAY[$2, $3]::text[])
                    AND ($4::text IS NULL OR user_email = $4)
                UNION ALL
                SELECT 'recovered_by', run_id, created_at, 1 FROM runs
                WHERE parent_run_id = $1 AND ($4::text IS NULL OR user_email = $4)
                UNION ALL
                SELECT 'relaunched_by', run_id, created_at, 2 FROM runs
                WHERE relaunched_from = $1 AND ($4::text IS NULL OR user_email = $4)
            ) linked
            ORDER BY rank, created_at, run_id
            """,
            run.run_id,
            run.parent_run_id,
            run.relaunched_from,
            viewer,
        )
        return [RunLink(relation=r["relation"], run_id=r["run_id"], created_at=r["created_at"]) for r in rows]

    async def last_deletion(self, run_id: str) -> RunAction | None:
        """The latest ``work_deleted`` or ``purged`` action of a run: when its work dir went, and why."""
        row = await self.pool.fetchrow(
            """
            SELECT kind, actor, reason, created_at FROM run_actions
            WHERE run_id = $1 AND kind IN ('work_deleted', 'purged') ORDER BY id DESC LIMIT 1
            """,
            run_id,
        )
        return None if row is None else RunAction(row["kind"], row["actor"], row["reason"], row["created_at"])

    async def mark_purged(self, run_id: str, *, actor: str, reason: str, own_work_dir: str | None) -> Run:
        """Mark a terminal run purged (``purged_at``, ``work_deleted_at`` unless set, a ``purged`` action) before
        its files are deleted; a run already purged is answered as it is.

        ``own_work_dir``: the URI of the work dir the run owns (None when it resumed in its parent's). The
        recoveries that resumed in it lose it with the purge: they are marked ``work_deleted`` in the same
        transaction, and an active one refuses the purge (WORK_DIR_IN_USE)."""
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow("SELECT status, purged_at FROM runs WHERE run_id = $1 FOR UPDATE", run_id)
            if current is None:
                raise NotFound(f"run {run_id} not found")
            if current["purged_at"] is None:
                _check_purgeable(run_id, current["status"])
                if own_work_dir is not None:
                    resuming = await conn.fetchval(
                        "SELECT min(run_id) FROM runs WHERE reused_work_dir = $1 AND NOT (status = ANY($2::text[]))",
                        own_work_dir,
                        list(st.TERMINAL),
                    )
                    if resuming is not None:
                        raise FailedPrecondition(
                            f"run {resuming} is resuming in the work dir of run {run_id}; wait for it to end or"
                            " cancel it before purging",
                            reason="WORK_DIR_IN_USE",
                            metadata={"run_id": resuming},
                        )
                    sharers = await conn.fetch(
                        """
                        UPDATE runs SET work_deleted_at = now(), updated_at = now()
                        WHERE reused_work_dir = $1 AND work_deleted_at IS NULL RETURNING run_id
                        """,
                        own_work_dir,
                    )
                    for sharer in sharers:
                        await self.record_action(
                            sharer["run_id"],
                            "work_deleted",
                            actor=actor,
                            reason=f"work dir deleted with the purge of {run_id} (it resumed in that run's work dir)",
                            conn=conn,
                        )
                await conn.execute(
                    """
                    UPDATE runs SET purged_at = now(), work_deleted_at = COALESCE(work_deleted_at, now()),
                        updated_at = now()
                    WHERE run_id = $1
                    """,
                    run_id,
                )
                await self.record_action(run_id, "purged", actor=actor, reason=reason, conn=conn)
            row = await conn.fetchrow(f"SELECT {_SELECT} FROM runs WHERE run_id = $1", run_id)
            return _run(row)

    async def retention_candidates(
        self, *, ended_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[RetentionCandidate]:
        """Terminal runs that ended before ``ended_before`` and still have their work dir, oldest end first,
        after the keyset ``after`` (idx_runs_work_retention)."""
        rows = await self.pool.fetch(
            """
            SELECT run_id, reused_work_dir, COALESCE(completed_at, failed_at, cancelled_at) AS ended_at FROM runs
            WHERE work_deleted_at IS NULL AND status IN ('completed', 'failed', 'cancelled')
              AND COALESCE(completed_at, failed_at, cancelled_at) < $1
              AND ($2::timestamptz IS NULL OR (COALESCE(completed_at, failed_at, cancelled_at), run_id) > ($2, $3))
            ORDER BY COALESCE(completed_at, failed_at, cancelled_at), run_id
            LIMIT $4
            """,
            ended_before,
            after[0] if after else None,
            after[1] if after else "",
            limit,
        )
        return [RetentionCandidate(r["run_id"], r["reused_work_dir"], r["ended_at"]) for r in rows]

    async def work_dir_users(self, owner_id: str, work_dir: str) -> list[WorkDirUser]:
        """The runs a work dir serves: its owner and the recoveries that resumed in it (idx_runs_reused_work_dir)."""
        rows = await self.pool.fetch(
            """
            SELECT run_id, status, COALESCE(completed_at, failed_at, cancelled_at) AS ended_at, work_deleted_at
            FROM runs WHERE run_id = $1 OR reused_work_dir = $2
            """,
            owner_id,
            work_dir,
        )
        return [WorkDirUser(r["run_id"], r["status"], r["ended_at"], r["work_deleted_at"]) for r in rows]

    async def mark_work_deleted(self, run_ids: Collection[str], *, actor: str, reason: str) -> list[str]:
        """Stamp ``work_deleted_at`` and a ``work_deleted`` action on the runs not stamped yet; returns them."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                UPDATE runs SET work_deleted_at = now(), updated_at = now()
                WHERE run_id = ANY($1::text[]) AND work_deleted_at IS NULL RETURNING run_id
                """,
                list(run_ids),
            )
            marked = sorted(row["run_id"] for row in rows)
            for run_id in marked:
                await self.record_action(run_id, "work_deleted", actor=actor, reason=reason, conn=conn)
            return marked


# --- history, purge and work-dir retention: the shapes the store answers ---


@dataclass(frozen=True)
class RunAction:
    """A ``run_actions`` row."""

    kind: str
    actor: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class RetentionCandidate:
    """A terminal run whose work dir is still kept."""

    run_id: str
    reused_work_dir: str | None
    ended_at: datetime


@dataclass(frozen=True)
class WorkDirUser:
    """A run a work dir serves (its owner or a recovery that resumed in it)."""

    run_id: str
    status: str
    ended_at: datetime | None
    work_deleted_at: datetime | None


def _check_purgeable(run_id: str, status: str) -> None:
    if status not in st.TERMINAL:
        raise FailedPrecondition(
            f"run {run_id} is {status}; only a completed, failed or cancelled run can be purged (cancel it first)",
            reason="RUN_ACTIVE",
            metadata={"current_status": status},
        )


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


# A user's row and their runs by status, as one JSON object per user.
_USER_COLUMNS = """
    u.email, u.display_name, u.created_at, u.last_login_at, u.preferences, u.stats,
    (SELECT COALESCE(jsonb_object_agg(c.status, c.n), '{}'::jsonb)
     FROM (SELECT status, count(*) AS n FROM runs WHERE user_email = u.email GROUP BY status) c) AS runs_by_status
"""
_USER_SELECT = f"SELECT {_USER_COLUMNS} FROM users u"
_USER_FROM_CTE = f"SELECT {_USER_COLUMNS} FROM u"


def _user_or_none(row: Mapping[str, Any] | None) -> User | None:
    if row is None:
        return None
    stats = row["stats"] or {}
    counts = row["runs_by_status"] or {}
    return User(
        email=row["email"],
        display_name=row["display_name"],
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
        preferences=dict(row["preferences"] or {}),
        total_runs=int(stats.get("total_runs", 0)),
        successful_runs=int(stats.get("successful_runs", 0)),
        total_samples_processed=int(stats.get("total_samples_processed", 0)),
        runs_by_status={status: int(counts.get(status, 0)) for status in st.STATUSES},
    )


def _stored(value: object) -> object:
    """A column value as UpdateRun compares it (JSONB labels decode to a dict already)."""
    return dict(value) if isinstance(value, Mapping) else value


def _run_or_none(row: Mapping[str, Any] | None) -> Run | None:
    return None if row is None else _run(row)


def snapshot_to_run(snapshot: Mapping[str, Any] | str) -> Run:
    """A history snapshot (JSON) back into the Run it was taken of."""
    return _run(json.loads(snapshot) if isinstance(snapshot, str) else snapshot)
