"""Turning a stored run into a running job: the job spec, submission, cancellation.

Kept apart from the service so that create, recover and the reconciler share one path to the executor.
"""

from __future__ import annotations

import logging

from arc_core.contracts import run_layout as layout
from arc_core.errors import ArcError, FailedPrecondition
from arc_core.storage import Storage
from services.runs import status as st
from services.runs.executors.base import Executor, JobSpec
from services.runs.model import Run
from services.runs.store import RunStore

log = logging.getLogger(__name__)


def work_dir_uri(storage: Storage, run: Run) -> str:
    """A run's Nextflow work dir: its own, or the parent's one that a recovery resumes in."""
    return run.reused_work_dir or storage.uri(layout.work_prefix(run.run_id))


class RunLauncher:
    def __init__(
        self,
        *,
        store: RunStore,
        storage: Storage,
        executor: Executor,
        status_address: str,
        nextflow_bin: str,
    ) -> None:
        self.store = store
        self.storage = storage
        self.executor = executor
        self.status_address = status_address
        self.nextflow_bin = nextflow_bin

    def job_spec(self, run: Run, *, token: str, resume_session_id: str | None) -> JobSpec:
        root = run.gcs_path
        work_dir = work_dir_uri(self.storage, run)
        return JobSpec(
            run_id=run.run_id,
            pipeline=run.pipeline,
            pipeline_version=run.pipeline_version,
            user_email=run.user_email,
            run_root=root,
            config_uri=layout.join(root, layout.input_in_run(layout.NEXTFLOW_CONFIG)),
            params_uri=layout.join(root, layout.input_in_run(layout.PARAMS_FILE)),
            work_dir=work_dir,
            session_id=str(run.nextflow_session_id),
            resume_session_id=resume_session_id,
            cache_uri=layout.cache_uri(work_dir),
            status_address=self.status_address,
            token=token,
            nextflow_bin=self.nextflow_bin,
        )

    async def submit(self, run: Run, token: str, *, resume_session_id: str | None) -> Run:
        """pending -> submitted with the job name, or pending -> failed with the reason. Never raises for the
        backend's refusal: the caller gets the run back in its true state."""
        spec = self.job_spec(run, token=token, resume_session_id=resume_session_id)
        try:
            job_name = await self.executor.submit(spec)
        except ArcError as exc:
            log.warning("submitting %s failed: %s", run.run_id, exc.message)
            result = await self.store.move(
                run.run_id,
                st.FAILED,
                reason=f"submit failed: {exc.message}",
                actor="runs",
                fields={"error_message": f"Could not start the run: {exc.message}"},
            )
            return result.run
        try:
            result = await self.store.move(
                run.run_id,
                st.SUBMITTED,
                reason=f"job {job_name} submitted",
                actor="runs",
                fields={"batch_job_name": job_name},
            )
        except FailedPrecondition:
            # Cancelled while we were submitting: the job must not run on its own.
            try:
                await self.executor.cancel(job_name)
            except ArcError as exc:
                # The run is already cancelled in the store and the caller gets it back, not this error; the
                # job's own reports are refused from now on (the run is terminal). Logged for an operator:
                # nothing retries this delete (the reconciler looks only at runs that are not terminal).
                log.error("cancelling %s's job %s after a cancel during submit: %s", run.run_id, job_name, exc)
            current = await self.store.get_run(run.run_id)
            if current is None:
                raise FailedPrecondition(f"run {run.run_id} disappeared while it was being submitted") from None
            return current
        return result.run

    async def cancel_job(self, run: Run) -> None:
        """Stop the run's job if it has one; a job that is already gone is fine (the executor says so)."""
        if run.batch_job_name:
            await self.executor.cancel(run.batch_job_name)
