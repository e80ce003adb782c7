"""The Cloud Batch executor: one Google Cloud Batch job per run, through the async ``google-cloud-batch`` client.

The job (``nf-{run_id}`` under ``projects/{project}/locations/{region}``) runs the orchestrator image once:
2 vCPU / 4 GiB on an e2-standard-2 SPOT VM under the orchestrator's service account, at most 7 days, retried
twice (a SPOT VM may be preempted), logs to Cloud Logging, labelled so its log entries can be found by run.

Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED) are retried here with bounded exponential backoff; the
client's own retries are switched off so that a failure surfaces in bounded time as one of base.py's errors.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exc
from google.cloud import batch_v1
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from arc_core.contracts import labels as gcp_labels
from arc_core.contracts import names
from services.runs.executors.base import (
    BackendUnavailable,
    ExecutorError,
    JobCreationFailed,
    JobNotFound,
    JobSpec,
    JobState,
    JobStatus,
    QuotaExceeded,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
ClientFactory = Callable[[], batch_v1.BatchServiceAsyncClient]

APP_LABEL = gcp_labels.APP
MACHINE_TYPE = "e2-standard-2"
CPU_MILLI = 2000
MEMORY_MIB = 4096
MAX_RUN_SECONDS = 7 * 24 * 3600  # 604800
MAX_RETRY_COUNT = 2
# Batch ends a task whose SPOT VM was preempted with exit code 50001; Nextflow's google-batch executor
# (GoogleBatchTaskHandler, v24.04) retries only that code, with max_retry_count = maxSpotAttempts and one
# RETRY_TASK lifecycle policy. The orchestrator does the same: a pipeline that fails is not re-run.
PREEMPTED_EXIT_CODE = 50001
TASK_GROUP = "group0"  # the name Batch gives a job's only task group
_CONCURRENT_DELETES = 8  # task jobs deleted at once when a run is cancelled
# Batch's rule for job ids: a lower-case letter, then up to 62 lower-case letters, digits or hyphens.
_JOB_ID_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_JOB_NAME_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/jobs/[^/]+$")
# Google's quota errors name the quota: "Quota 'CPUS' exceeded" or "quota metric 'X' and limit 'Y'".
_QUOTA_NAME_RE = re.compile(r"[Qq]uota (?:metric )?'([^']+)'")
_QUOTA_LIMIT_RE = re.compile(r"limit '([^']+)'")
_REQUEST_ID_NAMESPACE = uuid.UUID("6d1b3c1e-7a7e-4f0e-9a51-0c1f2d4b8a90")

_STATES = {
    batch_v1.JobStatus.State.STATE_UNSPECIFIED: JobState.QUEUED,  # just created
    batch_v1.JobStatus.State.QUEUED: JobState.QUEUED,
    batch_v1.JobStatus.State.SCHEDULED: JobState.QUEUED,
    batch_v1.JobStatus.State.RUNNING: JobState.RUNNING,
    batch_v1.JobStatus.State.SUCCEEDED: JobState.SUCCEEDED,
    batch_v1.JobStatus.State.FAILED: JobState.FAILED,
    batch_v1.JobStatus.State.DELETION_IN_PROGRESS: JobState.GONE,
    batch_v1.JobStatus.State.CANCELLATION_IN_PROGRESS: JobState.GONE,
    batch_v1.JobStatus.State.CANCELLED: JobState.GONE,
}


def job_labels(spec: JobSpec) -> dict[str, str]:
    """The job's labels: on the job, its VMs and every Cloud Logging entry it writes."""
    return {
        gcp_labels.RUN_ID_KEY: gcp_labels.label_value(spec.run_id),
        gcp_labels.APP_KEY: APP_LABEL,
        gcp_labels.PIPELINE_KEY: gcp_labels.label_value(spec.pipeline),
        "user-email": gcp_labels.label_value(spec.user_email),
    }


@dataclass(frozen=True)
class Network:
    """The orchestrator VM's VPC: ``ARC_BATCH_NETWORK``, ``ARC_BATCH_SUBNETWORK``, ``ARC_BATCH_NO_EXTERNAL_IP``."""

    network: str = ""
    subnetwork: str = ""
    no_external_ip: bool = False

    def policy(self) -> batch_v1.AllocationPolicy.NetworkPolicy | None:
        if not (self.network or self.subnetwork or self.no_external_ip):
            return None  # Batch's default network
        interface = batch_v1.AllocationPolicy.NetworkInterface(
            network=self.network, subnetwork=self.subnetwork, no_external_ip_address=self.no_external_ip
        )
        return batch_v1.AllocationPolicy.NetworkPolicy(network_interfaces=[interface])


def build_job(
    spec: JobSpec,
    *,
    image: str,
    service_account: str,
    machine_type: str = MACHINE_TYPE,
    network: Network = Network(),
) -> batch_v1.Job:
    """The Batch job that runs ``spec``'s orchestrator (the image's own entrypoint, no command override)."""
    labels = job_labels(spec)
    task = batch_v1.TaskSpec(
        runnables=[batch_v1.Runnable(container=batch_v1.Runnable.Container(image_uri=image))],
        # The run token travels as a plain environment variable, so anyone allowed to read the job
        # (batch.jobs.get) can read it. Secret Manager (`environment.secret_variables`) would keep it out
        # of the job spec, but needs one secret created and deleted per run, secretAccessor for the
        # orchestrator's service account and another API in the submit path; the token is scoped to this
        # one run and only lets it report its own status, so the exposure is bounded.
        environment=batch_v1.Environment(variables=spec.environment()),
        compute_resource=batch_v1.ComputeResource(cpu_milli=CPU_MILLI, memory_mib=MEMORY_MIB),
        max_run_duration=duration_pb2.Duration(seconds=MAX_RUN_SECONDS),
        max_retry_count=MAX_RETRY_COUNT,
        # Retry only a preempted VM; any other failure (the pipeline failed) is final.
        lifecycle_policies=[
            batch_v1.LifecyclePolicy(
                action=batch_v1.LifecyclePolicy.Action.RETRY_TASK,
                action_condition=batch_v1.LifecyclePolicy.ActionCondition(exit_codes=[PREEMPTED_EXIT_CODE]),
            )
        ],
    )
    instance = batch_v1.AllocationPolicy.InstancePolicy(
        machine_type=machine_type,
        provisioning_model=batch_v1.AllocationPolicy.ProvisioningModel.SPOT,
    )
    allocation = batch_v1.AllocationPolicy(
        instances=[batch_v1.AllocationPolicy.InstancePolicyOrTemplate(policy=instance)],
        service_account=batch_v1.ServiceAccount(email=service_account),
        labels=labels,  # on the VMs too, for cost attribution per run
    )
    network_policy = network.policy()
    if network_policy is not None:
        allocation.network = network_policy
    return batch_v1.Job(
        task_groups=[batch_v1.TaskGroup(task_count=1, task_spec=task)],
        allocation_policy=allocation,
        labels=labels,
        logs_policy=batch_v1.LogsPolicy(destination=batch_v1.LogsPolicy.Destination.CLOUD_LOGGING),
    )


def task_name(job: batch_v1.Job | str) -> str:
    """The resource name of the job's only task: ``{job}/taskGroups/group0/tasks/0``."""
    if isinstance(job, batch_v1.Job):
        group = job.task_groups[0].name if job.task_groups and job.task_groups[0].name else ""
        group = group or f"{job.name}/taskGroups/{TASK_GROUP}"
    else:
        group = f"{job}/taskGroups/{TASK_GROUP}"
    return f"{group}/tasks/0"


def task_exit_code(task: batch_v1.Task | None) -> int | None:
    """The exit code of the task's last execution: only a task's status events carry ``task_execution``."""
    if task is None:
        return None
    events = list(task.status.status_events)
    return next((e.task_execution.exit_code for e in reversed(events) if "task_execution" in e), None)


def job_status_from(job: batch_v1.Job, task: batch_v1.Task | None = None) -> JobStatus:
    """A Batch job's state as a :class:`JobStatus`; a failed job's exit code comes from its ``task``."""
    state = _STATES.get(job.status.state, JobState.QUEUED)
    events = list(job.status.status_events)
    exit_code = None
    if state is JobState.SUCCEEDED:
        exit_code = 0  # an earlier attempt may have failed (SPOT preemption, retries) before the last one passed
    elif state is JobState.FAILED:
        exit_code = task_exit_code(task)
    message = events[-1].description if events else ""
    return JobStatus(state, exit_code, message)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff (with jitter) for UNAVAILABLE and DEADLINE_EXCEEDED."""

    max_attempts: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    multiplier: float = 2.0
    call_timeout: float = 60.0  # per attempt

    def backoffs(self) -> list[float]:
        delays, delay = [], self.initial_backoff
        for _ in range(self.max_attempts - 1):
            delays.append(delay)
            delay = min(delay * self.multiplier, self.max_backoff)
        return delays


def plaintext_client_factory(address: str) -> ClientFactory:
    """A client of a Batch API speaking plaintext gRPC at ``host:port`` (a local fake), no credentials."""
    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.batch_v1.services.batch_service.transports import BatchServiceGrpcAsyncIOTransport

    def make() -> batch_v1.BatchServiceAsyncClient:
        return batch_v1.BatchServiceAsyncClient(
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=address),
            transport=lambda host, **_: BatchServiceGrpcAsyncIOTransport(
                channel=grpc.aio.insecure_channel(host), host=host
            ),
        )

    return make


class BatchExecutor:
    """Runs each orchestrator as one Cloud Batch job.

    Args:
        project, region: where the jobs live.
        image: the orchestrator image.
        service_account: e-mail of the orchestrator VM's service account.
        client_factory: makes the async client, called inside the running loop (default: Application
            Default Credentials against the public endpoint).
        retry: backoff for transient errors.
        delete_timeout: how long cancel waits for Batch to finish deleting a job.
    """

    def __init__(
        self,
        *,
        project: str,
        region: str,
        image: str,
        service_account: str,
        client_factory: ClientFactory | None = None,
        retry: RetryPolicy = RetryPolicy(),
        delete_timeout: float = 120.0,
        machine_type: str = MACHINE_TYPE,
        network: Network = Network(),
    ) -> None:
        missing = [n for n, v in (("project", project), ("region", region), ("image", image)) if not v]
        missing += ["service_account"] if not service_account else []
        if missing:
            raise ValueError(f"the Batch executor needs {', '.join(missing)}")
        self.project = project
        self.region = region
        self.image = image
        self.service_account = service_account
        self.machine_type = machine_type
        self.network = network
        self.retry = retry
        self.delete_timeout = delete_timeout
        self._client_factory = client_factory or batch_v1.BatchServiceAsyncClient
        self._client: batch_v1.BatchServiceAsyncClient | None = None

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def job_name(self, run_id: str) -> str:
        """The resource name of ``run_id``'s job (what ``submit`` returns)."""
        return f"{self.parent}/jobs/nf-{run_id}"

    async def start(self) -> None:
        """Nothing to do: the client is created on first use, inside the running loop."""

    async def submit(self, spec: JobSpec) -> str:
        """CreateJob; returns the job's resource name. A job that already exists (a retried submit) is fine."""
        job_id = spec.job_id
        if not _JOB_ID_RE.match(job_id):
            raise JobCreationFailed(f"run id {spec.run_id!r} does not make a valid Batch job id ({job_id!r})")
        name = self.job_name(spec.run_id)
        request = batch_v1.CreateJobRequest(
            parent=self.parent,
            job_id=job_id,
            job=build_job(
                spec,
                image=self.image,
                service_account=self.service_account,
                machine_type=self.machine_type,
                network=self.network,
            ),
            # Same run, same request id: Batch ignores a duplicate of a request it already handled.
            request_id=str(uuid.uuid5(_REQUEST_ID_NAMESPACE, name)),
        )
        try:
            client = await self._get_client()
            job = await self._with_retries(
                f"CreateJob {job_id}",
                lambda: client.create_job(request=request, retry=None, timeout=self.retry.call_timeout),
            )
        except gexc.AlreadyExists:
            log.info("batch executor: %s exists already (a retried submit)", name)
            return name
        except (gexc.GoogleAPICallError, auth_exc.GoogleAuthError) as exc:
            raise self._creation_error(exc, spec) from exc
        return job.name or name

    async def cancel(self, job_name: str) -> None:
        """Delete the head job and the task jobs Nextflow started for the run; missing jobs are fine.

        Nextflow's google-batch executor labels each task job with the process ``resourceLabels``, which
        carry ``run-id`` (services/pipelines/config_render.py), so ListJobs with ``labels.run-id="…"`` finds
        them; deleting only the head job would leave them running (and billing) to the end.
        """
        _check_job_name(job_name)
        errors: list[Exception] = []
        # The head job first, so that Nextflow stops starting task jobs before they are listed; a head job
        # that cannot be deleted must not keep its task jobs running, so every step goes on past a failure.
        try:
            await self._delete(job_name)
        except Exception as exc:
            errors.append(exc)
        run_id = names.run_id_of_job(job_name.rsplit("/jobs/", 1)[1])
        try:
            tasks = [name for name in await self._task_jobs(run_id) if name != job_name]
        except Exception as exc:
            errors.append(exc)
            tasks = []
        limit = asyncio.Semaphore(_CONCURRENT_DELETES)

        async def delete(name: str) -> None:
            async with limit:
                await self._delete(name)

        outcomes = await asyncio.gather(*(delete(name) for name in tasks), return_exceptions=True)
        errors.extend(o for o in outcomes if isinstance(o, Exception))
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # a cancellation, not a failure
        if errors:
            for extra in errors[1:]:
                log.warning("batch executor: cancelling %s: %s", job_name, extra)
            raise errors[0]

    async def _task_jobs(self, run_id: str) -> list[str]:
        """Names of the jobs labelled ``run-id`` = ``run_id`` (sanitised as the label was)."""
        label = gcp_labels.label_value(run_id)
        request = batch_v1.ListJobsRequest(parent=self.parent, filter=gcp_labels.run_id_filter(run_id))
        try:
            client = await self._get_client()
            pager = await self._with_retries(
                f"ListJobs run-id={run_id}",
                lambda: client.list_jobs(request=request, retry=None, timeout=self.retry.call_timeout),
            )
            # Checked again here: only a job that really carries this run's label is ever deleted.
            return [job.name async for job in pager if job.labels.get(gcp_labels.RUN_ID_KEY) == label]
        except (gexc.GoogleAPICallError, auth_exc.GoogleAuthError) as exc:
            raise _error(exc, f"cannot list the Batch jobs of {run_id}") from exc

    async def _delete(self, job_name: str) -> None:
        try:
            client = await self._get_client()
            operation = await self._with_retries(
                f"DeleteJob {job_name}",
                lambda: client.delete_job(name=job_name, retry=None, timeout=self.retry.call_timeout),
            )
            await operation.result(timeout=self.delete_timeout)
        except gexc.NotFound:
            return
        except TimeoutError:
            log.warning("batch executor: %s still deleting after %.0f s", job_name, self.delete_timeout)
        except (gexc.GoogleAPICallError, auth_exc.GoogleAuthError) as exc:
            raise _error(exc, f"cannot delete Batch job {job_name}") from exc

    async def status(self, job_name: str) -> JobStatus:
        """GetJob's state; a job that does not exist (deleted) is GONE."""
        _check_job_name(job_name)
        try:
            client = await self._get_client()
            job = await self._with_retries(
                f"GetJob {job_name}",
                lambda: client.get_job(name=job_name, retry=None, timeout=self.retry.call_timeout),
            )
        except gexc.NotFound:
            return JobStatus(JobState.GONE, None, "the Batch job does not exist")
        except (gexc.GoogleAPICallError, auth_exc.GoogleAuthError) as exc:
            raise _error(exc, f"cannot read Batch job {job_name}") from exc
        task = None
        if job.status.state == batch_v1.JobStatus.State.FAILED:
            task = await self._get_task(task_name(job))
        return job_status_from(job, task)

    async def _get_task(self, name: str) -> batch_v1.Task | None:
        """GetTask; a task that cannot be read leaves the exit code unknown rather than failing status()."""
        try:
            client = await self._get_client()
            return await self._with_retries(
                f"GetTask {name}",
                lambda: client.get_task(name=name, retry=None, timeout=self.retry.call_timeout),
            )
        except gexc.NotFound:
            return None
        except (gexc.GoogleAPICallError, auth_exc.GoogleAuthError) as exc:
            log.warning("batch executor: cannot read Batch task %s, exit code unknown: %s", name, exc)
            return None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.transport.close()

    async def _get_client(self) -> batch_v1.BatchServiceAsyncClient:
        if self._client is None:
            self._client = self._client_factory()  # inside the running loop: its channel binds to it
        return self._client

    async def _with_retries(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        for delay in [*self.retry.backoffs(), None]:
            attempt += 1
            try:
                return await call()
            except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, auth_exc.TransportError) as exc:
                if delay is None:
                    raise BackendUnavailable(
                        f"Cloud Batch did not answer {what} after {attempt} attempts: {_message(exc)}"
                    ) from exc
                log.warning("batch executor: %s failed (%s); retry %d in %.1f s", what, _message(exc), attempt, delay)
                await asyncio.sleep(random.uniform(delay / 2, delay))
        raise AssertionError("unreachable")

    def _creation_error(self, exc: Exception, spec: JobSpec) -> ExecutorError:
        what = f"Cloud Batch refused the orchestrator job of {spec.run_id} ({spec.job_id})"
        if isinstance(exc, gexc.GoogleAPICallError) and _is_quota_error(exc):
            quota = _quota_name(exc)
            return QuotaExceeded(
                f"{what}: {_quota_phrase(quota)} in project {self.project} ({self.region}). Wait for running "
                f"jobs to finish, or request more quota (Google Cloud console > IAM & Admin > Quotas). "
                f"Batch said: {_message(exc)}",
                reason="QUOTA_EXCEEDED",
                metadata={"quota": quota or "", "project": self.project, "region": self.region},
            )
        if isinstance(exc, gexc.PermissionDenied | gexc.Unauthenticated | auth_exc.GoogleAuthError):
            return JobCreationFailed(
                f"{what}: permission denied. The platform's service account needs roles/batch.jobsEditor on "
                f"project {self.project} and roles/iam.serviceAccountUser on {self.service_account}. "
                f"Batch said: {_message(exc)}",
                reason="PERMISSION_DENIED",
            )
        if isinstance(exc, gexc.InvalidArgument | gexc.FailedPrecondition | gexc.NotFound):
            return JobCreationFailed(f"{what} as invalid: {_message(exc)}", reason="INVALID_JOB")
        return _error(exc, what)


def _check_job_name(job_name: str) -> None:
    if not _JOB_NAME_RE.match(job_name):
        raise JobNotFound(f"{job_name!r} is not a Batch job name (projects/P/locations/R/jobs/J)")


def _message(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)


def _error(exc: Exception, what: str) -> ExecutorError:
    """Map an error that no caller handled specially to base.py's types."""
    if isinstance(exc, gexc.NotFound):
        return JobNotFound(f"{what}: not found: {_message(exc)}")
    if isinstance(exc, gexc.GoogleAPICallError) and _is_quota_error(exc):
        return QuotaExceeded(f"{what}: {_quota_phrase(_quota_name(exc))}: {_message(exc)}", reason="QUOTA_EXCEEDED")
    if isinstance(exc, gexc.PermissionDenied | gexc.Unauthenticated | auth_exc.GoogleAuthError):
        return JobCreationFailed(f"{what}: permission denied: {_message(exc)}", reason="PERMISSION_DENIED")
    if isinstance(exc, gexc.InvalidArgument):
        return JobCreationFailed(f"{what}: invalid request: {_message(exc)}")
    return BackendUnavailable(f"{what}: {type(exc).__name__}: {_message(exc)}")


def _is_quota_error(exc: gexc.GoogleAPICallError) -> bool:
    if isinstance(exc, gexc.ResourceExhausted) or "quota" in _message(exc).lower():
        return True
    return any(isinstance(d, error_details_pb2.QuotaFailure) for d in exc.details or ())


def _quota_phrase(quota: str | None) -> str:
    return f"quota '{quota}' exceeded" if quota else "a quota was exceeded (Batch did not name it)"


def _quota_name(exc: gexc.GoogleAPICallError) -> str | None:
    """The quota's name from the error's details (QuotaFailure, ErrorInfo) or its message."""
    for detail in exc.details or ():
        if isinstance(detail, error_details_pb2.QuotaFailure):
            for violation in detail.violations:
                if violation.subject or violation.description:
                    return str(violation.subject or violation.description)
    metadata = exc.metadata or {}
    if metadata.get("quota_limit") or metadata.get("quota_metric"):
        return str(metadata.get("quota_limit") or metadata.get("quota_metric"))
    message = _message(exc)
    match = _QUOTA_LIMIT_RE.search(message) or _QUOTA_NAME_RE.search(message)
    return match.group(1) if match else None
