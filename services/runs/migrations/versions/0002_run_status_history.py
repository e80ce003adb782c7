"""Audit trail of every status move; its per-run ``seq`` is the WatchRun event sequence.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from arc_core.db import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        op,
        """
        CREATE TABLE run_status_history (
            run_id VARCHAR(50) NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            from_status VARCHAR(20),
            to_status VARCHAR(20) NOT NULL,
            reason TEXT,
            actor VARCHAR(255),
            created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
            -- the run as it was right after the move, so a reconnecting watcher can replay it exactly
            run_snapshot JSONB NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        """,
    )


def downgrade() -> None:
    execute_script(op, "DROP TABLE run_status_history;")
