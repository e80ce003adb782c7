"""The Run: one definition of a run record, which the store returns and every converter maps from.

Adding a field to a run is: the migration, a field here, the proto field and its line in
``convert.run_to_proto``; ``tests/runs/test_run_model.py`` fails until all four agree.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Run:
    """A row of ``runs`` (every column but the private ``orchestrator_token_sha256`` and ``request_id``).

    Timestamps are aware (UTC from the database); ``params`` and ``metrics`` are decoded JSON.
    """

    run_id: str
    pipeline: str
    pipeline_version: str
    status: str
    """``pending`` ... ``cancelled`` (``arc_core.contracts.run_status``)."""
    user_email: str
    user_name: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    gcs_path: str
    """The run's root in storage, as a URI (``gs://…``) or a local path."""
    batch_job_name: str | None
    params: dict[str, Any]
    sample_count: int
    source_ngs_runs: list[str] | None
    source_project: str | None
    parent_run_id: str | None
    is_recovery: bool
    recovery_notes: str | None
    reused_work_dir: str | None
    exit_code: int | None
    error_message: str | None
    error_task: str | None
    metrics: dict[str, Any] | None
    nextflow_session_id: str | None
    """The pinned Nextflow session (a UUID, as text)."""
    name: str
    description: str | None
    labels: dict[str, str]
    relaunched_from: str | None
    """The run this one was relaunched from."""
    purged_at: datetime | None
    """When the run's files were deleted (PurgeRun); the row stays."""
    work_deleted_at: datetime | None
    """When the work dir was deleted (retention or purge); recovery cannot reuse it after."""


@dataclass(frozen=True, slots=True)
class RunHistoryEntry:
    """One row of ``run_status_history``: a status move and the run as it was right after it."""

    seq: int
    from_status: str | None
    to_status: str
    reason: str | None
    actor: str | None
    created_at: datetime
    run: Run


@dataclass(frozen=True, slots=True)
class User:
    """A row of ``users`` with the stats the store keeps, the caller's runs by status, and whether the
    caller is an admin (from their identity: never stored)."""

    email: str
    display_name: str
    created_at: datetime | None
    last_login_at: datetime | None
    preferences: dict[str, Any]
    total_runs: int
    successful_runs: int
    total_samples_processed: int
    runs_by_status: dict[str, int]
    """Every status (``arc_core.contracts.run_status``) with the user's count, zeros included."""
    is_admin: bool = False


# --- history and links (GetRunHistory) ---


@dataclass(frozen=True, slots=True)
class RunTimelineEntry:
    """One entry of a run's history: a status move (``kind`` = ``status``) or an action that moved no status
    (``updated``, ``work_deleted``, ``purged``; ``from_status`` None, ``to_status`` the status at the time)."""

    kind: str
    time: datetime
    actor: str
    reason: str
    from_status: str | None
    to_status: str


@dataclass(frozen=True, slots=True)
class RunLink:
    """Another run this one came from (``recovers``, ``relaunches``) or led to (``recovered_by``,
    ``relaunched_by``)."""

    relation: str
    run_id: str
    created_at: datetime


RUN_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Run))
"""The fields of :class:`Run` in order: the columns the store selects."""

_HINTS = typing.get_type_hints(Run)
TIMESTAMP_FIELDS: tuple[str, ...] = tuple(name for name in RUN_FIELDS if _HINTS[name] in (datetime, datetime | None))
"""The fields of :class:`Run` that hold a timestamp."""
