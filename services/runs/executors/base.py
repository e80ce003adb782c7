"""The executor contract: how the Runs service starts, stops and inspects a run's orchestrator job.

Two implementations, chosen by ``ARC_EXECUTOR``: ``local`` (a child process in its own process group)
and ``batch`` (one Google Cloud Batch job per run). Both start the same orchestrator with the same
environment (:meth:`JobSpec.environment`), so a laptop exercises the production path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from arc_core.contracts import names
from arc_core.contracts.job_environment import JobEnvironment
from arc_core.errors import ArcError, FailedPrecondition, NotFound, ResourceExhausted, Unavailable
from arc_core.nextflow_cache import cache_variable_for
from services.runs import status as run_status


@dataclass(frozen=True)
class JobSpec:
    """Everything the orchestrator job of one run needs; no database credentials, ever."""

    run_id: str
    pipeline: str
    pipeline_version: str
    user_email: str
    run_root: str  # the run's root URI: gs://bucket/runs/run-… or a local path
    config_uri: str  # {run_root}/inputs/nextflow.config (rendered)
    params_uri: str  # {run_root}/inputs/params.yaml
    work_dir: str  # the Nextflow work dir: {run_root}/work, or the parent's for a recovery
    session_id: str  # NXF_UUID pinned for this run
    resume_session_id: str | None  # the parent's session id for a recovery (-resume SESSION)
    cache_uri: str  # the Nextflow resume cache inside the work dir (see cache_variable)
    status_address: str  # host:port of the Runs gRPC API (ReportRunStatus)
    token: str  # the run-scoped orchestrator token (x-arc-run-token)
    nextflow_bin: str = "nextflow"

    @property
    def is_recovery(self) -> bool:
        return self.resume_session_id is not None

    @property
    def cache_variable(self) -> str:
        """The variable that tells Nextflow where its resume cache is (see arc_core.nextflow_cache)."""
        return cache_variable_for(self.cache_uri)

    @property
    def job_id(self) -> str:
        return names.job_id(self.run_id)

    def environment(self) -> dict[str, str]:
        """The orchestrator's environment (``arc_core.contracts.job_environment``, which it reads back)."""
        return JobEnvironment(
            run_id=self.run_id,
            pipeline=self.pipeline,
            pipeline_version=self.pipeline_version,
            run_root=self.run_root,
            config_uri=self.config_uri,
            params_uri=self.params_uri,
            work_dir=self.work_dir,
            session_id=self.session_id,
            resume_session_id=self.resume_session_id,
            cache_uri=self.cache_uri,
            status_address=self.status_address,
            token=self.token,
            nextflow_bin=self.nextflow_bin,
        ).to_environ()


class JobState(enum.Enum):
    QUEUED = "queued"  # accepted, not yet running (Batch QUEUED/SCHEDULED, local: waiting for a slot)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    GONE = "gone"  # deleted, or the local process vanished without a recorded exit


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    exit_code: int | None = None
    message: str = ""


class ExecutorError(ArcError):
    """Base for executor failures, mapped to the domain's error kinds below."""


class JobCreationFailed(ExecutorError, FailedPrecondition):
    """The backend refused the job (bad spec, permission denied): retrying will not help."""


class QuotaExceeded(ExecutorError, ResourceExhausted):
    """The project is out of quota for the job's resources."""


class JobNotFound(ExecutorError, NotFound):
    pass


class BackendUnavailable(ExecutorError, Unavailable):
    """Transient: the backend is down or timed out (retried with backoff before surfacing)."""


class Executor(Protocol):
    async def start(self) -> None:
        """Called once at service start: the local executor re-attaches to jobs a previous process left."""
        ...

    async def submit(self, spec: JobSpec) -> str:
        """Start the job; returns its name (``batch_job_name``). Raises an ExecutorError subclass."""
        ...

    async def cancel(self, job_name: str) -> None:
        """Stop the job; a job that is already gone is not an error."""
        ...

    async def status(self, job_name: str) -> JobStatus:
        """The job's real state, for the reconciler."""
        ...

    async def close(self) -> None: ...


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.GONE})

_RUN_STATUS = {
    JobState.QUEUED: run_status.SUBMITTED,
    JobState.RUNNING: run_status.RUNNING,
    JobState.SUCCEEDED: run_status.COMPLETED,
    JobState.FAILED: run_status.FAILED,
    JobState.GONE: run_status.CANCELLED,  # deleted, or vanished: nobody will finish it
}


def run_status_for(job_status: JobStatus | JobState) -> str:
    """The run status (``submitted``, ``running``, ``completed``, ``failed``, ``cancelled``) a job state means."""
    state = job_status.state if isinstance(job_status, JobStatus) else job_status
    return _RUN_STATUS[state]
