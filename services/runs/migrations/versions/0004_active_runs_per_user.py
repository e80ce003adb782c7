"""The per-user limit on active runs counts them on every create: a partial index keeps that a few rows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from arc_core.db import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        op,
        """
        CREATE INDEX idx_runs_user_active ON runs (user_email) WHERE status IN ('pending', 'submitted', 'running');
        """,
    )


def downgrade() -> None:
    execute_script(op, "DROP INDEX idx_runs_user_active;")
