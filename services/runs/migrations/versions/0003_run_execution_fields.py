"""What execution needs beyond the spec: the orchestrator token (hash only), the pinned Nextflow
session id, and the client's request id for idempotent creates.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from arc_core.db import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        op,
        """
        ALTER TABLE runs
            ADD COLUMN orchestrator_token_sha256 BYTEA,
            ADD COLUMN nextflow_session_id UUID,
            ADD COLUMN request_id VARCHAR(100);
        CREATE UNIQUE INDEX idx_runs_user_email_request_id ON runs (user_email, request_id)
            WHERE request_id IS NOT NULL;
        -- keyset paging orders by (created_at, run_id): these let each filter walk an index in order
        CREATE INDEX idx_runs_created_at_run_id ON runs (created_at DESC, run_id DESC);
        CREATE INDEX idx_runs_user_created_run ON runs (user_email, created_at DESC, run_id DESC);
        CREATE INDEX idx_runs_status_created_run ON runs (status, created_at DESC, run_id DESC);
        CREATE INDEX idx_runs_pipeline_created_run ON runs (pipeline, created_at DESC, run_id DESC);
        CREATE INDEX idx_runs_parent_run_id ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
        """,
    )


def downgrade() -> None:
    execute_script(
        op,
        """
        DROP INDEX idx_runs_parent_run_id, idx_runs_pipeline_created_run, idx_runs_status_created_run,
            idx_runs_user_created_run, idx_runs_created_at_run_id, idx_runs_user_email_request_id;
        ALTER TABLE runs DROP COLUMN request_id, DROP COLUMN nextflow_session_id,
            DROP COLUMN orchestrator_token_sha256;
        """,
    )
