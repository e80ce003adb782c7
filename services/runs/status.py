"""The run state machine of DESIGN.md (pure: no I/O)."""

from __future__ import annotations

PENDING, SUBMITTED, RUNNING = "pending", "submitted", "running"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"

STATUSES = (PENDING, SUBMITTED, RUNNING, COMPLETED, FAILED, CANCELLED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})

ALLOWED_MOVES: dict[str, frozenset[str]] = {
    PENDING: frozenset({SUBMITTED, CANCELLED, FAILED}),
    SUBMITTED: frozenset({RUNNING, CANCELLED, FAILED}),
    RUNNING: frozenset({COMPLETED, FAILED, CANCELLED}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}

# The timestamp column each status sets when a run enters it.
TIMESTAMP_COLUMN = {
    SUBMITTED: "submitted_at",
    RUNNING: "started_at",
    COMPLETED: "completed_at",
    FAILED: "failed_at",
    CANCELLED: "cancelled_at",
}


def sources_of(target: str) -> frozenset[str]:
    """The statuses a run may move to ``target`` from."""
    return frozenset(s for s, targets in ALLOWED_MOVES.items() if target in targets)


def is_terminal(status: str) -> bool:
    return status in TERMINAL
