"""Runs straight in the store, for tests that need a run in some state without a pipeline run."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from services.runs import status as st
from services.runs.service import hash_token
from services.runs.store import NewRun, RunStore

# The shortest allowed path from pending to each status.
PATH_TO = {
    st.PENDING: [],
    st.SUBMITTED: [st.SUBMITTED],
    st.RUNNING: [st.SUBMITTED, st.RUNNING],
    st.COMPLETED: [st.SUBMITTED, st.RUNNING, st.COMPLETED],
    st.FAILED: [st.FAILED],
    st.CANCELLED: [st.CANCELLED],
}


def new_run(*, run_id: str | None = None, owner: str = "alice@example.com", **overrides: Any) -> NewRun:
    run_id = run_id or f"run-{secrets.token_hex(4)}"
    fields: dict[str, Any] = dict(
        run_id=run_id,
        pipeline="nf-core/scrnaseq",
        pipeline_version="2.7.1",
        user_email=owner,
        user_name=None,
        gcs_path=f"/tmp/runs/{run_id}",
        params={"genome": "GRCh38"},
        sample_count=2,
        source_ngs_runs=None,
        source_project=None,
        nextflow_session_id=str(uuid.uuid4()),
        orchestrator_token_sha256=hash_token("unused"),
        request_id=None,
    )
    fields.update(overrides)
    return NewRun(**fields)


async def insert_run(
    store: RunStore, *, status: str = st.PENDING, job_name: str | None = None, **overrides: Any
) -> str:
    """Insert a run (its owner's user row too) and walk it to ``status``; the job name is set on submit."""
    run = new_run(**overrides)
    await store.touch_user(run.user_email, run.user_email.split("@")[0])
    await store.insert_run(run)
    for target in PATH_TO[status]:
        fields = {"batch_job_name": job_name} if target == st.SUBMITTED and job_name else {}
        await store.move(run.run_id, target, reason="test", actor="test", fields=fields)
    return run.run_id
