"""The orchestrator's side of ``ReportRunStatus``: one run, one token, retried with backoff.

Reports are idempotent on the server (repeating the current status changes nothing), so a retry after a
lost reply cannot corrupt a run. What is retried: UNAVAILABLE and DEADLINE_EXCEEDED (the Runs service is
restarting or unreachable), and FAILED_PRECONDITION while the run is still ``pending`` (the executor
started us before the Runs service recorded ``submitted``). Any other FAILED_PRECONDITION is final: the
state machine forbids the move (e.g. the run was cancelled) and asking again will not change that.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import grpc
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_delay, wait_exponential_jitter

from arc.runs.v1 import run_pb2, runs_service_pb2, runs_service_pb2_grpc
from arc_core.contracts.run_status import PENDING, REPORT_TIMESTAMP, REPORTED_STATUSES
from arc_core.errors import DeadlineExceeded, FailedPrecondition, Unavailable
from arc_core.grpc_client import unary
from arc_core.identity import RUN_TOKEN_HEADER
from arc_core.protos import timestamp, to_struct

log = logging.getLogger(__name__)

# What the orchestrator may report, as ``arc.runs.v1.Run.Status`` values.
STATUSES: dict[str, int] = {status: run_pb2.Run.Status.Value(status.upper()) for status in REPORTED_STATUSES}
# The timestamp field of the request that goes with each status.
TIMESTAMP_FIELDS = REPORT_TIMESTAMP

DEFAULT_CALL_TIMEOUT = 10.0
DEFAULT_MAX_SECONDS = 300.0
_RETRYABLE_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def build_request(
    run_id: str,
    status: str,
    *,
    at: datetime | None = None,
    error_message: str | None = None,
    error_task: str | None = None,
    exit_code: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    nextflow_session_id: str | None = None,
) -> runs_service_pb2.ReportRunStatusRequest:
    """The request for one report; ``at`` goes to the timestamp field of ``status`` (if it has one)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    request = runs_service_pb2.ReportRunStatusRequest(run_id=run_id, status=STATUSES[status])  # type: ignore[arg-type]
    field = TIMESTAMP_FIELDS.get(status)
    if at is not None and field is not None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        getattr(request, field).CopyFrom(timestamp(at))
    if error_message:
        request.error_message = error_message
    if error_task:
        request.error_task = error_task
    if exit_code is not None:
        request.exit_code = exit_code
    if metrics is not None:
        request.metrics.CopyFrom(to_struct(metrics))
    if nextflow_session_id:
        request.nextflow_session_id = nextflow_session_id
    return request


def is_retryable(exc: BaseException) -> bool:
    """Transient failures, and the short window in which the run is still ``pending``."""
    if isinstance(exc, Unavailable | DeadlineExceeded):
        return True
    if isinstance(exc, FailedPrecondition):
        return exc.metadata.get("current_status") == PENDING
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _RETRYABLE_CODES


def current_status(exc: BaseException) -> str | None:
    """The run's status named by a FAILED_PRECONDITION answer, if any."""
    if isinstance(exc, FailedPrecondition):
        return exc.metadata.get("current_status") or None
    return None


class StatusClient:
    """Reports one run's status to the Runs service (``x-arc-run-token`` metadata)."""

    def __init__(
        self,
        address: str,
        token: str,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        initial_backoff: float = 0.25,
        max_backoff: float = 10.0,
    ) -> None:
        self.address = address
        self._token = token
        self.call_timeout = call_timeout
        self.max_seconds = max_seconds
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        # Reconnect quickly after the service comes back (gRPC's default backoff grows to minutes).
        self._channel = grpc.aio.insecure_channel(
            address,
            options=[
                ("grpc.initial_reconnect_backoff_ms", 250),
                ("grpc.max_reconnect_backoff_ms", 3000),
            ],
        )
        self._stub = runs_service_pb2_grpc.RunsServiceStub(self._channel)

    async def __aenter__(self) -> StatusClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def send(
        self, request: runs_service_pb2.ReportRunStatusRequest, *, max_seconds: float | None = None
    ) -> run_pb2.Run:
        """Send one report, retrying transient failures for up to ``max_seconds``.

        Raises the domain exception of a final answer (FailedPrecondition, Unauthenticated, NotFound, ...)
        or, once the time is up, the last transient one.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_exponential_jitter(
                initial=self.initial_backoff, max=self.max_backoff, jitter=self.initial_backoff
            ),
            stop=stop_after_delay(self.max_seconds if max_seconds is None else max_seconds),
            before_sleep=self._log_retry,
            reraise=True,
        )
        metadata = ((RUN_TOKEN_HEADER, self._token),)
        run = run_pb2.Run()
        async for attempt in retrying:
            with attempt:
                run = await unary(self._stub.ReportRunStatus, request, metadata=metadata, timeout=self.call_timeout)
        return run

    async def report(
        self,
        run_id: str,
        status: str,
        *,
        max_seconds: float | None = None,
        **fields: Any,
    ) -> run_pb2.Run:
        """``build_request(run_id, status, **fields)`` sent with :meth:`send`."""
        return await self.send(build_request(run_id, status, **fields), max_seconds=max_seconds)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "status report to %s failed (attempt %d: %s); retrying in %.1f s",
            self.address,
            state.attempt_number,
            exc,
            wait,
        )
