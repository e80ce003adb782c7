"""The run statuses of DESIGN.md, which of them are terminal, and the timestamp each one sets.

The allowed moves between them are the Runs service's own state machine (``services/runs/status.py``).
"""

from __future__ import annotations

PENDING, SUBMITTED, RUNNING = "pending", "submitted", "running"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"

STATUSES = (PENDING, SUBMITTED, RUNNING, COMPLETED, FAILED, CANCELLED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})

TIMESTAMP_COLUMN = {
    SUBMITTED: "submitted_at",
    RUNNING: "started_at",
    COMPLETED: "completed_at",
    FAILED: "failed_at",
    CANCELLED: "cancelled_at",
}
"""The timestamp (column of ``runs``, field of ``arc.runs.v1.Run``) each status sets when a run enters it."""

END_TIMESTAMP = {status: TIMESTAMP_COLUMN[status] for status in STATUSES if status in TERMINAL}
"""The timestamp that says when a run became terminal, per terminal status."""

REPORTED_STATUSES = (SUBMITTED, RUNNING, COMPLETED, FAILED, CANCELLED)
"""What the orchestrator may report (``ReportRunStatus``): every status but ``pending``."""

REPORT_TIMESTAMP = {status: TIMESTAMP_COLUMN[status] for status in (RUNNING, COMPLETED, FAILED)}
"""The statuses whose ``ReportRunStatus`` request carries a timestamp field, and its name."""


def is_terminal(status: str) -> bool:
    return status in TERMINAL
