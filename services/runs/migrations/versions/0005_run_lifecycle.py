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

        -- Work-dir retention (services/runs/retention.py): the pass walks terminal runs whose work dir is
        -- kept, oldest end first (a run enters one terminal status only, so one of the three is set). A
        -- work dir's users are its owner plus the recoveries that resumed in it (reused_work_dir).
        CREATE INDEX idx_runs_work_retention ON runs ((COALESCE(completed_at, failed_at, cancelled_at)), run_id)
            WHERE work_deleted_at IS NULL AND status IN ('completed', 'failed', 'cancelled');
        CREATE INDEX idx_runs_reused_work_dir ON runs (reused_work_dir) WHERE reused_work_dir IS NOT NULL;
        """,
    )
    _upgrade_name_search()


def downgrade() -> None:
    _downgrade_name_search()
    execute_script(
        op,
        """
        DROP INDEX idx_runs_reused_work_dir, idx_runs_work_retention;
        DROP INDEX idx_runs_relaunched_from;
        DROP TABLE run_actions;
        DROP INDEX idx_runs_labels;
        ALTER TABLE runs DROP COLUMN work_deleted_at, DROP COLUMN purged_at, DROP COLUMN relaunched_from,
            DROP COLUMN labels, DROP COLUMN description, DROP COLUMN name;
        """,
    )


# --- name search (ListRuns `name:"text"`, REST `q`) --------------------------------------------------
# pg_trgm is not in every PostgreSQL we run on (the embedded one has no contrib), so the trigram index is
# built from core parts: `name_trigrams` holds the distinct 3-character substrings of the lower-cased name
# (a generated column: PostgreSQL keeps it right on every insert and update, and fills it for existing rows
# as the column is added), with a GIN index (array_ops). A name contains `q` only if it holds every trigram
# of `q`, so `name_trigrams @> arc_name_trigrams(q)` narrows the rows through the index and
# `lower(name) LIKE '%q%'` keeps the exact matches. A stored column rather than an expression index: when
# a common term is read in created_at order the check runs on every row, and an array test costs ~1 us
# where computing the trigrams costs ~40 us. The statistics on `lower(name)` give the planner a histogram
# for the LIKE, so a common term walks the created_at index and a rare one uses the GIN index.


def _upgrade_name_search() -> None:
    execute_script(
        op,
        """
        CREATE FUNCTION arc_name_trigrams(name text) RETURNS text[]
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN ARRAY(SELECT DISTINCT substr(lower(name), i, 3) FROM generate_series(1, length(name) - 2) i);
        ALTER TABLE runs ADD COLUMN name_trigrams TEXT[] GENERATED ALWAYS AS (arc_name_trigrams(name)) STORED;
        CREATE INDEX idx_runs_name_trigrams ON runs USING gin (name_trigrams);
        CREATE STATISTICS runs_lower_name ON (lower(name)) FROM runs;
        """,
    )


def _downgrade_name_search() -> None:
    execute_script(
        op,
        """
        DROP STATISTICS runs_lower_name;
        DROP INDEX idx_runs_name_trigrams;
        ALTER TABLE runs DROP COLUMN name_trigrams;
        DROP FUNCTION arc_name_trigrams(text);
        """,
    )
