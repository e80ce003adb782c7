"""The run state machine of DESIGN.md (pure: no I/O); the statuses themselves are a shared contract."""

from __future__ import annotations

from arc_core.contracts.run_status import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    STATUSES,
    SUBMITTED,
    TERMINAL,
    TIMESTAMP_COLUMN,
    is_terminal,
)

__all__ = [
    "ALLOWED_MOVES",
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "PENDING",
    "RUNNING",
    "STATUSES",
    "SUBMITTED",
    "TERMINAL",
    "TIMESTAMP_COLUMN",
    "is_terminal",
    "sources_of",
]

ALLOWED_MOVES: dict[str, frozenset[str]] = {
    PENDING: frozenset({SUBMITTED, CANCELLED, FAILED}),
    SUBMITTED: frozenset({RUNNING, CANCELLED, FAILED}),
    RUNNING: frozenset({COMPLETED, FAILED, CANCELLED}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}


def sources_of(target: str) -> frozenset[str]:
    """The statuses a run may move to ``target`` from."""
    return frozenset(s for s, targets in ALLOWED_MOVES.items() if target in targets)
