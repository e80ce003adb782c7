"""The client's exceptions: one per kind of ``arc_core.errors``, built from a failed call's rich status.

The server encodes a domain error as a gRPC status whose ``grpc-status-details-bin`` trailer holds a
``google.rpc.Status`` with ``BadRequest`` (field violations), ``ErrorInfo`` (reason, metadata) and
``RetryInfo`` details (``arc_core.grpc_errors.to_status``). The decoding is ``arc_core.grpc_errors``' own
(``from_rpc_error``, ``decode_status``); this module only gives its result the client's shape: every
exception keeps the status code and the raw call, and violations are ``(field, description)`` pairs.
"""

from __future__ import annotations

from typing import NamedTuple

import grpc
from google.rpc import error_details_pb2

from arc_core import errors as core
from arc_core import grpc_errors


class Violation(NamedTuple):
    """One problem with one input: ``field`` locates it (``params.times``, ``samplesheet[row 2].fastq_1``)."""

    field: str
    description: str


class ArcClientError(Exception):
    """A call that failed. ``code`` is the gRPC status, ``message`` the server's text (safe to show)."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        violations: list[Violation] | None = None,
        retry_after: float | None = None,
        rpc_error: grpc.aio.AioRpcError | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.reason = reason  # google.rpc.ErrorInfo.reason, e.g. RUN_PURGED, WORK_DIR_DELETED
        self.metadata = dict(metadata or {})  # google.rpc.ErrorInfo.metadata
        self.violations = list(violations or [])  # google.rpc.BadRequest field violations
        self.retry_after = retry_after  # seconds, from google.rpc.RetryInfo
        self.rpc_error = rpc_error

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.violations:
            text += "".join(f"\n  {v.field}: {v.description}" for v in self.violations)
        return text


class InvalidArgument(ArcClientError):
    """Bad input; ``violations`` holds every problem found, each located by its field."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ArcClientError):
    """Missing, or not visible to the caller (a stranger's run is NOT_FOUND)."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ArcClientError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ArcClientError):
    """The resource is in the wrong state (``reason``/``metadata`` say which, e.g. ``RUN_PURGED``)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(ArcClientError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ArcClientError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(ArcClientError):
    """A per-user limit; ``retry_after`` says when to try again, when the server knows."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ArcClientError):
    """The service (or a backend behind it) is down or unreachable; the call may be retried."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ArcClientError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unimplemented(ArcClientError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(ArcClientError):
    """A server bug or an unexpected failure (INTERNAL, UNKNOWN, DATA_LOSS, ...): nothing the caller did."""

    code = grpc.StatusCode.INTERNAL


class Cancelled(ArcClientError):
    code = grpc.StatusCode.CANCELLED


_BY_CODE: dict[grpc.StatusCode, type[ArcClientError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        PermissionDenied,
        Unauthenticated,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Unimplemented,
        Internal,
        Cancelled,
    )
}


def _retry_after(error: grpc.aio.AioRpcError) -> float | None:
    status = grpc_errors.decode_status(error.trailing_metadata())
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToTimedelta().total_seconds())
    return None


def from_rpc_error(error: grpc.aio.AioRpcError) -> ArcClientError:
    """The client exception a failed call stands for (codes with no domain kind become :class:`Internal`,
    keeping their own ``code``)."""
    code = error.code()
    cls = _BY_CODE.get(code, Internal)
    domain = grpc_errors.from_rpc_error(error)
    if domain is None:  # a code with no domain meaning: the server's text is all there is
        return cls(error.details() or code.name, code=code, rpc_error=error)
    violations = (
        [Violation(v.field, v.description) for v in domain.violations]
        if isinstance(domain, core.InvalidArgument)
        else []
    )
    return cls(
        domain.message,
        code=code,
        reason=domain.reason,
        metadata=domain.metadata,
        violations=violations,
        retry_after=_retry_after(error),
        rpc_error=error,
    )
