"""Domain exceptions <-> gRPC status with ``google.rpc.Status`` details, in one place.

Servers turn :class:`ArcError` into a rich status (``BadRequest`` field violations, ``ErrorInfo``);
clients turn a failed call back into the same exception, so a violation found by Pipelines reaches
the gateway unchanged through Runs.
"""

from __future__ import annotations

from datetime import timedelta

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from arc_core import errors

DOMAIN = "arc-reactor"

_CODES: dict[type[errors.ArcError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
}
_EXCEPTIONS = {code: exc for exc, code in _CODES.items()}


def status_code_for(exc: errors.ArcError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def to_status(exc: errors.ArcError) -> grpc.Status:
    """A ``grpc.Status`` whose trailing metadata carries the ``google.rpc.Status`` details."""
    code = status_code_for(exc)
    details: list[any_pb2.Any] = []
    if isinstance(exc, errors.InvalidArgument) and exc.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in exc.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    if exc.reason or exc.metadata:
        info = error_details_pb2.ErrorInfo(reason=exc.reason or code.name, domain=DOMAIN, metadata=exc.metadata)
        packed = any_pb2.Any()
        packed.Pack(info)
        details.append(packed)
    if exc.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(timedelta(seconds=max(0.0, exc.retry_after_seconds)))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(packed)
    status = status_pb2.Status(code=code.value[0], message=exc.message, details=details)
    return rpc_status.to_status(status)


def decode_status(trailing_metadata: object) -> status_pb2.Status | None:
    for key, value in trailing_metadata or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    return None


def from_rpc_error(error: grpc.aio.AioRpcError) -> errors.ArcError | None:
    """The domain exception a failed call stands for, or None for codes with no domain meaning."""
    cls = _EXCEPTIONS.get(error.code())
    if cls is None:
        return None
    message = error.details() or error.code().name
    violations: list[errors.FieldViolation] = []
    reason, metadata = "", {}
    status = decode_status(error.trailing_metadata())
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations.extend(errors.FieldViolation(v.field, v.description) for v in bad.field_violations)
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
    if cls is errors.InvalidArgument:
        return errors.InvalidArgument(message, violations, reason=reason, metadata=metadata)
    return cls(message, reason=reason, metadata=metadata)
