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
job ids (ALREADY_EXISTS), missing jobs (NOT_FOUND). DeleteJob removes the job and answers a finished
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
        """Move job ``name`` to ``state``, recording a status event (with the task's exit code if given)."""
        job = self.jobs[name]
        event = batch_v1.StatusEvent(
            type_="STATUS_CHANGED",
            description=description or f"Job state is set from {job.status.state.name} to {state.name}",
            event_time=datetime.now(UTC),
        )
        if exit_code is not None:
            event.task_execution = batch_v1.TaskExecution(exit_code=exit_code)
        job.status.state = state
        job.status.status_events.append(event)

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
        self.jobs[name] = job
        return job

    def _get(self, request: batch_v1.GetJobRequest) -> batch_v1.Job:
        if request.name not in self.jobs:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Job {request.name} not found")
        return self.jobs[request.name]

    def _list(self, request: batch_v1.ListJobsRequest) -> batch_v1.ListJobsResponse:
        prefix = f"{request.parent}/jobs/"
        return batch_v1.ListJobsResponse(jobs=[j for n, j in sorted(self.jobs.items()) if n.startswith(prefix)])

    def _delete(self, request: batch_v1.DeleteJobRequest) -> operations_pb2.Operation:
        if request.name not in self.jobs:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Job {request.name} not found")
        del self.jobs[request.name]
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
