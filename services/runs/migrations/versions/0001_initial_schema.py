"""The spec's tables: runs, users, checkpoints.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from arc_core.db import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        op,
        """
        CREATE TABLE runs (
            run_id VARCHAR(50) PRIMARY KEY,
            pipeline VARCHAR(100) NOT NULL,
            pipeline_version VARCHAR(20) NOT NULL,
            status VARCHAR(20) NOT NULL,
            user_email VARCHAR(255) NOT NULL,
            user_name VARCHAR(255),
            created_at TIMESTAMPTZ DEFAULT NOW(),
            updated_at TIMESTAMPTZ DEFAULT NOW(),
            submitted_at TIMESTAMPTZ,
            started_at TIMESTAMPTZ,
            completed_at TIMESTAMPTZ,
            failed_at TIMESTAMPTZ,
            cancelled_at TIMESTAMPTZ,
            gcs_path TEXT NOT NULL,
            batch_job_name TEXT,
            params JSONB NOT NULL,
            sample_count INTEGER NOT NULL,
            source_ngs_runs TEXT[],
            source_project TEXT,
            parent_run_id VARCHAR(50),
            is_recovery BOOLEAN DEFAULT FALSE,
            recovery_notes TEXT,
            reused_work_dir TEXT,
            exit_code INTEGER,
            error_message TEXT,
            error_task TEXT,
            metrics JSONB
        );
        CREATE INDEX idx_runs_user_email_created_at ON runs (user_email, created_at DESC);
        CREATE INDEX idx_runs_status_created_at ON runs (status, created_at DESC);
        CREATE INDEX idx_runs_created_at ON runs (created_at DESC);

        CREATE TABLE users (
            email VARCHAR(255) PRIMARY KEY,
            display_name VARCHAR(255) NOT NULL,
            created_at TIMESTAMPTZ DEFAULT NOW(),
            last_login_at TIMESTAMPTZ DEFAULT NOW(),
            preferences JSONB NOT NULL DEFAULT '{}',
            stats JSONB NOT NULL DEFAULT '{}'
        );
        CREATE INDEX idx_users_last_login_at ON users (last_login_at DESC);

        CREATE TABLE checkpoints (
            thread_id TEXT NOT NULL,
            checkpoint_id TEXT NOT NULL,
            parent_checkpoint_id TEXT,
            checkpoint JSONB NOT NULL,
            metadata JSONB,
            created_at TIMESTAMPTZ DEFAULT NOW(),
            PRIMARY KEY (thread_id, checkpoint_id)
        );
        """,
    )


def downgrade() -> None:
    execute_script(op, "DROP TABLE checkpoints; DROP TABLE users; DROP TABLE runs;")
