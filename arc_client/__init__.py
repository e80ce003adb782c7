"""A typed client of Arc Reactor's gRPC services (async, with a thin synchronous face in ``arc_client.sync``)."""

from arc_client.client import ArcClient, create_run_request
from arc_client.credentials import IdTokenSource, dev_identity
from arc_client.errors import (
    AlreadyExists,
    ArcClientError,
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Violation,
)
from arc_client.streams import ReconnectPolicy

__all__ = [
    "AlreadyExists",
    "ArcClient",
    "ArcClientError",
    "Cancelled",
    "DeadlineExceeded",
    "FailedPrecondition",
    "IdTokenSource",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ReconnectPolicy",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Violation",
    "create_run_request",
    "dev_identity",
]
