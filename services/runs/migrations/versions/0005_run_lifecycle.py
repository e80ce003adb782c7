"""The life of a run: names, descriptions and labels; relaunch links; purge and work-dir retention; actions
that change no status (a rename, a work dir deleted, a purge) in ``run_actions``, beside the status history.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

from arc_core.db import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        op,
        """
        ALTER TABLE runs
            ADD COLUMN name VARCHAR(120),
            ADD COLUMN description TEXT,
            ADD COLUMN labels JSONB NOT NULL DEFAULT '{}',
            ADD COLUMN relaunched_from VARCHAR(50),
            ADD COLUMN purged_at TIMESTAMPTZ,
            ADD COLUMN work_deleted_at TIMESTAMPTZ;
        -- Runs made before names existed get the default a new run would get (without its project).
        UPDATE runs SET name = regexp_replace(pipeline, '^.*/', '') || ' · ' || sample_count
            || CASE WHEN sample_count = 1 THEN ' sample' ELSE ' samples' END
            || COALESCE(' · ' || source_project, '');
        -- Every create names its run: the default only serves rows written by hand (tests, benches).
        ALTER TABLE runs ALTER COLUMN name SET NOT NULL, ALTER COLUMN name SET DEFAULT '';
        -- Label filters (`labels @> '{"k": "v"}'`).
        CREATE INDEX idx_runs_labels ON runs USING gin (labels jsonb_path_ops);

        CREATE TABLE run_actions (
            id BIGSERIAL PRIMARY KEY,
            run_id VARCHAR(50) NOT NULL REFERENCES runs (run_id),
            kind VARCHAR(20) NOT NULL,
            actor VARCHAR(255) NOT NULL,
            reason TEXT NOT NULL,
            status VARCHAR(20) NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX idx_run_actions_run ON run_actions (run_id, id);
        CREATE INDEX idx_runs_relaunched_from ON runs (relaunched_from) WHERE relaunched_from IS NOT NULL;
        """,
    )


def downgrade() -> None:
    execute_script(
        op,
        """
        DROP INDEX idx_runs_relaunched_from;
        DROP TABLE run_actions;
        DROP INDEX idx_runs_labels;
        ALTER TABLE runs DROP COLUMN work_deleted_at, DROP COLUMN purged_at, DROP COLUMN relaunched_from,
            DROP COLUMN labels, DROP COLUMN description, DROP COLUMN name;
        """,
    )
