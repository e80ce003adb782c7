"""A local gRPC server that speaks the real ``google.cloud.batch.v1.BatchService`` protocol.

Usage::

    async with running_fake_batch() as batch:
        executor = batch_executor_for(batch)
        name = await executor.submit(spec)
        (request,) = batch.calls("CreateJob")
        batch.set_state(name, batch_v1.JobStatus.State.RUNNING)
        batch.fail_next(grpc.StatusCode.UNAVAILABLE, times=2)

Handlers are generic ones using the proto-plus classes' own ``deserialize``/``serialize``, so the real client
is exercised end to end. The server records every request (failed ones too), keeps jobs in memory, and
checks what the real service checks where the platform depends on it: job id and label syntax, existing
job ids (ALREADY_EXISTS), missing jobs (NOT_FOUND), ListJobs' ``labels.KEY="VALUE"`` filter. Each job has
one task (``{job}/taskGroups/group0/tasks/0``, GetTask/ListTasks); as in google/cloud/batch/v1/task.proto, only
a task's status events carry ``task_execution.exit_code``, never the job's. ``finish_attempt`` models
TaskSpec.max_retry_count and lifecycle_policies (RETRY_TASK / FAIL_TASK on exit codes).
DeleteJob removes the job and answers a finished
long-running operation. ``fail_next`` makes the next calls fail with a status code (with rich error details
such as ``QuotaFailure`` when given), before or after the request takes effect.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from google.cloud import batch_v1
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from services.runs.executors.batch import BatchExecutor, RetryPolicy, plaintext_client_factory

SERVICE = "google.cloud.batch.v1.BatchService"
PROJECT = "test-project"
REGION = "us-central1"
IMAGE = "us-docker.pkg.dev/test-project/arc/orchestrator:1.0"
SERVICE_ACCOUNT = "orchestrator@test-project.iam.gserviceaccount.com"
# Fast backoff: a retry test takes milliseconds, and a failure surfaces in well under a second.
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, call_timeout=5.0)

_JOB_ID_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
# The one ListJobs filter form the fake understands (AIP-160, as in the Batch docs' `labels.env="prod"`).
_LABEL_FILTER_RE = re.compile(r'^labels\.([a-z][a-z0-9_-]*)\s*=\s*"([^"]*)"$')
Action = batch_v1.LifecyclePolicy.Action


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, details: Sequence[Message] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, tuple(details)


@dataclass
class Failure:
    code: grpc.StatusCode
    message: str
    method: str | None  # None: whichever call comes next
    details: tuple[Message, ...] = ()  # google.rpc error details, e.g. QuotaFailure, ErrorInfo
    after: bool = False  # the request takes effect, then the reply is lost


@dataclass
class FakeBatch:
    address: str = ""
    jobs: dict[str, batch_v1.Job] = field(default_factory=dict)
    tasks: dict[str, batch_v1.Task] = field(default_factory=dict)  # by task name, one per job
    requests: list[tuple[str, Any]] = field(default_factory=list)  # (method, request), in arrival order
    _failures: list[Failure] = field(default_factory=list)

    def calls(self, method: str) -> list[Any]:
        """The requests received by ``method`` (CreateJob, GetJob, ListJobs, DeleteJob)."""
        return [request for name, request in self.requests if name == method]

    def fail_next(
        self,
        code: grpc.StatusCode,
        message: str = "",
        *,
        times: int = 1,
        method: str | None = None,
        details: Sequence[Message] = (),
        after_processing: bool = False,
    ) -> None:
        """Fail the next ``times`` calls (of ``method``, or of any method) with ``code``.

        ``after_processing`` applies the request first (e.g. the job is created) and then fails, like a
        reply lost on the way back.
        """
        message = message or f"injected {code.name}"
        for _ in range(times):
            self._failures.append(Failure(code, message, method, tuple(details), after_processing))

    def set_state(
        self,
        name: str,
        state: batch_v1.JobStatus.State,
        *,
        exit_code: int | None = None,
        description: str = "",
    ) -> None:
        """Move job ``name`` to ``state``, recording a job status event; ``exit_code`` goes on the TASK.

        task.proto: TaskStatus.status_events carry ``task_execution`` (the exit code); the job-level
        JobStatus.status_events of job.proto never do, so the fake never puts one there.
        """
        job = self.jobs[name]
        job.status.status_events.append(
            batch_v1.StatusEvent(
                type_="STATUS_CHANGED",
                description=description or f"Job state is set from {job.status.state.name} to {state.name}",
                event_time=datetime.now(UTC),
            )
        )
        job.status.state = state
        if exit_code is not None:
            task = self.task_of(name)
            task.status.status_events.append(
                batch_v1.StatusEvent(
                    type_="STATUS_CHANGED",
                    description=f"Task state is updated from RUNNING to FAILED: exit code {exit_code}",
                    event_time=datetime.now(UTC),
                    task_execution=batch_v1.TaskExecution(exit_code=exit_code),
                )
            )
            task.status.state = (
                batch_v1.TaskStatus.State.SUCCEEDED if exit_code == 0 else batch_v1.TaskStatus.State.FAILED
            )

    def task_of(self, job_name: str) -> batch_v1.Task:
        return self.tasks[f"{job_name}/taskGroups/group0/tasks/0"]

    def task_job(self, run_label: str, job_id: str) -> str:
        """Add a RUNNING job as Nextflow's google-batch executor would for one process task of a run."""
        name = f"projects/{PROJECT}/locations/{REGION}/jobs/{job_id}"
        job = batch_v1.Job(
            name=name, labels={"run-id": run_label}, status=batch_v1.JobStatus(state=batch_v1.JobStatus.State.RUNNING)
        )
        self.jobs[name] = job
        return name

    def finish_attempt(self, name: str, exit_code: int) -> None:
        """The task's current attempt ends with ``exit_code``; Batch retries it or ends the job.

        task.proto: ``max_retry_count`` is the "maximum number of retries on failures"; a LifecyclePolicy's
        action applies "when the task execution exits with any of the exit codes" in its ActionCondition.
        Modelled: without lifecycle policies every non-zero exit is retried while retries remain; with
        policies, a RETRY_TASK code is retried (while retries remain), any other code fails the task.
        """
        job = self.jobs[name]
        spec = job.task_groups[0].task_spec
        task = self.task_of(name)
        failures = sum(1 for e in task.status.status_events if "task_execution" in e and e.task_execution.exit_code)
        State = batch_v1.TaskStatus.State
        if exit_code == 0:
            retry = False
        elif not spec.lifecycle_policies:
            retry = True
        else:
            retry = any(
                p.action == Action.RETRY_TASK and exit_code in p.action_condition.exit_codes
                for p in spec.lifecycle_policies
            )
        retry = retry and failures < spec.max_retry_count
        task.status.status_events.append(
            batch_v1.StatusEvent(
                type_="STATUS_CHANGED",
                description=f"Task attempt ended with exit code {exit_code}" + (", retried" if retry else ""),
                event_time=datetime.now(UTC),
                task_execution=batch_v1.TaskExecution(exit_code=exit_code),
            )
        )
        if retry:
            task.status.state = State.PENDING
            self.set_state(name, batch_v1.JobStatus.State.RUNNING, description="Task retried")
        elif exit_code == 0:
            task.status.state = State.SUCCEEDED
            self.set_state(name, batch_v1.JobStatus.State.SUCCEEDED)
        else:
            task.status.state = State.FAILED
            self.set_state(name, batch_v1.JobStatus.State.FAILED, description=f"Job failed: task exit code {exit_code}")

    # --- handlers ---

    def _take_failure(self, method: str) -> Failure | None:
        for i, failure in enumerate(self._failures):
            if failure.method in (None, method):
                return self._failures.pop(i)
        return None

    def _create(self, request: batch_v1.CreateJobRequest) -> batch_v1.Job:
        if not _JOB_ID_RE.match(request.job_id):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"job_id {request.job_id!r} is invalid")
        for key, value in request.job.labels.items():
            if not _LABEL_KEY_RE.match(key) or not _LABEL_VALUE_RE.match(value):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"label {key!r}: {value!r} is invalid")
        name = f"{request.parent}/jobs/{request.job_id}"
        if name in self.jobs:
            raise _Abort(grpc.StatusCode.ALREADY_EXISTS, f"Job {name} already exists")
        job = batch_v1.Job.deserialize(batch_v1.Job.serialize(request.job))
        job.name = name
        job.uid = f"{request.job_id}-{uuid.uuid4().hex[:8]}"
        job.create_time = datetime.now(UTC)
        job.status = batch_v1.JobStatus(state=batch_v1.JobStatus.State.QUEUED)
        for i, group in enumerate(job.task_groups):
            group.name = f"{name}/taskGroups/group{i}"
        self.jobs[name] = job
        task = f"{name}/taskGroups/group0/tasks/0"
        self.tasks[task] = batch_v1.Task(name=task, status=batch_v1.TaskStatus(state=batch_v1.TaskStatus.State.PENDING))
        return job

    def _get(self, request: batch_v1.GetJobRequest) -> batch_v1.Job:
        if request.name not in self.jobs:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Job {request.name} not found")
        return self.jobs[request.name]

    def _list(self, request: batch_v1.ListJobsRequest) -> batch_v1.ListJobsResponse:
        prefix = f"{request.parent}/jobs/"
        jobs = [j for n, j in sorted(self.jobs.items()) if n.startswith(prefix)]
        if request.filter:
            match = _LABEL_FILTER_RE.match(request.filter.strip())
            if not match:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid filter {request.filter!r}")
            key, value = match.groups()
            jobs = [j for j in jobs if j.labels.get(key) == value]
        return batch_v1.ListJobsResponse(jobs=jobs)

    def _get_task(self, request: batch_v1.GetTaskRequest) -> batch_v1.Task:
        if request.name not in self.tasks:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Task {request.name} not found")
        return self.tasks[request.name]

    def _list_tasks(self, request: batch_v1.ListTasksRequest) -> batch_v1.ListTasksResponse:
        prefix = f"{request.parent}/tasks/"
        return batch_v1.ListTasksResponse(tasks=[t for n, t in sorted(self.tasks.items()) if n.startswith(prefix)])

    def _delete(self, request: batch_v1.DeleteJobRequest) -> operations_pb2.Operation:
        if request.name not in self.jobs:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Job {request.name} not found")
        del self.jobs[request.name]
        for task in [t for t in self.tasks if t.startswith(f"{request.name}/")]:
            del self.tasks[task]
        response = any_pb2.Any()
        response.Pack(empty_pb2.Empty())
        parent = request.name.split("/jobs/")[0]
        # Done, with a response: an Operation with neither response nor error is "Unexpected state".
        return operations_pb2.Operation(name=f"{parent}/operations/{uuid.uuid4().hex}", done=True, response=response)

    def _unary(self, method: str, apply: Callable[[Any], Any]) -> Callable[[Any, grpc.aio.ServicerContext], Any]:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self.requests.append((method, request))
            failure = self._take_failure(method)
            try:
                if failure is not None and not failure.after:
                    raise _Abort(failure.code, failure.message, failure.details)
                response = apply(request)
                if failure is not None:
                    raise _Abort(failure.code, failure.message, failure.details)
                return response
            except _Abort as abort:
                await _abort(context, abort)

        return handle

    def handler(self) -> grpc.GenericRpcHandler:
        def unary(method: str, apply: Callable[[Any], Any], request_type: Any, serialize: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, apply), request_deserializer=request_type.deserialize, response_serializer=serialize
            )

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateJob": unary("CreateJob", self._create, batch_v1.CreateJobRequest, batch_v1.Job.serialize),
                "GetJob": unary("GetJob", self._get, batch_v1.GetJobRequest, batch_v1.Job.serialize),
                "ListJobs": unary(
                    "ListJobs", self._list, batch_v1.ListJobsRequest, batch_v1.ListJobsResponse.serialize
                ),
                "GetTask": unary("GetTask", self._get_task, batch_v1.GetTaskRequest, batch_v1.Task.serialize),
                "ListTasks": unary(
                    "ListTasks", self._list_tasks, batch_v1.ListTasksRequest, batch_v1.ListTasksResponse.serialize
                ),
                "DeleteJob": unary(
                    "DeleteJob", self._delete, batch_v1.DeleteJobRequest, operations_pb2.Operation.SerializeToString
                ),
            },
        )


async def _abort(context: grpc.aio.ServicerContext, abort: _Abort) -> None:
    """End the call with ``abort``'s status; details travel as ``grpc-status-details-bin``, as Google's do."""
    if not abort.details:
        await context.abort(abort.code, abort.message)  # raises
    packed = []
    for detail in abort.details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    status = rpc_status.to_status(
        status_pb2.Status(code=getattr(code_pb2, abort.code.name), message=abort.message, details=packed)
    )
    await context.abort(status.code, status.details, status.trailing_metadata)


@asynccontextmanager
async def running_fake_batch() -> AsyncIterator[FakeBatch]:
    """Start a fake Batch API on a free loopback port; stop it when the block ends."""
    fake = FakeBatch()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((fake.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    fake.address = f"127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await server.stop(None)


def batch_executor_for(fake: FakeBatch, **overrides: Any) -> BatchExecutor:
    """A BatchExecutor whose real async client talks plaintext gRPC to ``fake``, with fast retries."""
    options: dict[str, Any] = dict(
        project=PROJECT,
        region=REGION,
        image=IMAGE,
        service_account=SERVICE_ACCOUNT,
        client_factory=plaintext_client_factory(fake.address),
        retry=FAST_RETRY,
        delete_timeout=5.0,
    )
    options.update(overrides)
    return BatchExecutor(**options)
