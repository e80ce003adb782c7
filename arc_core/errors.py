"""Domain exceptions shared by every service.

Domain code raises these; the gRPC layer maps them to status codes in one place
(`arc_core.grpc_errors`), and the gateway maps gRPC codes to HTTP statuses.
Domain modules never import ``grpc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one input, located by ``field`` (e.g. ``params.genome`` or ``samplesheet[3].fastq_1``)."""

    field: str
    description: str


class ArcError(Exception):
    """Base class: a handled failure with a message safe to show to a caller."""

    def __init__(
        self,
        message: str,
        *,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.retry_after_seconds = retry_after_seconds  # sent as google.rpc.RetryInfo (REST: Retry-After)


class InvalidArgument(ArcError):
    """Bad input; carries every field violation found, not just the first."""

    def __init__(
        self,
        message: str,
        violations: list[FieldViolation] | tuple[FieldViolation, ...] = (),
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.violations = list(violations)


class NotFound(ArcError):
    """Missing, or not visible to the caller (a stranger's run is NOT_FOUND, not PERMISSION_DENIED)."""


class AlreadyExists(ArcError):
    pass


class FailedPrecondition(ArcError):
    """The resource is in the wrong state for the request (e.g. cancelling a completed run)."""


class PermissionDenied(ArcError):
    pass


class Unauthenticated(ArcError):
    pass


class Unavailable(ArcError):
    """A backend is down or too slow; the caller may retry."""


class ResourceExhausted(ArcError):
    pass


class DeadlineExceeded(ArcError):
    pass


class Unimplemented(ArcError):
    """Declared in the contract but not built yet; never answered with made-up data."""


@dataclass
class ViolationCollector:
    """Collects violations so a validator can report every problem at once."""

    violations: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.violations.append(FieldViolation(field_path, description))

    def raise_if_any(self, message: str = "invalid input") -> None:
        if self.violations:
            raise InvalidArgument(message, self.violations)

    def __bool__(self) -> bool:
        return bool(self.violations)
