"""Server-side gRPC plumbing shared by every service: identity, error mapping, health, reflection.

One interceptor wraps every handler so that (1) the caller is authenticated before the method runs
and is available through :func:`current_identity`, and (2) a domain exception becomes a rich status.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from arc_core import errors
from arc_core.grpc_errors import to_status
from arc_core.identity import Authenticator, Identity

log = logging.getLogger(__name__)

_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("arc_identity", default=None)

# Methods that authenticate themselves (the orchestrator's run token) or need no caller.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def current_identity() -> Identity:
    """The authenticated caller of the RPC being served."""
    identity = _identity.get()
    if identity is None:
        raise errors.Unauthenticated("no caller identity")
    return identity


def metadata_dict(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    if not isinstance(exc, errors.ArcError):
        # A bug, not a handled case: log it whole, tell the caller only that it happened.
        log.exception("unhandled error in %s", method, exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error")
    status = to_status(exc)
    await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call (except ``self_authenticated`` methods) and maps domain errors."""

    def __init__(self, authenticator: Authenticator, *, self_authenticated: Iterable[str] = ()) -> None:
        self.authenticator = authenticator
        self.self_authenticated = set(self_authenticated)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        needs_identity = method not in self.self_authenticated
        authenticator = self.authenticator

        async def _enter(context: grpc.aio.ServicerContext) -> contextvars.Token | None:
            if not needs_identity:
                return None
            identity = await authenticator.authenticate(metadata_dict(context))
            return _identity.set(identity)

        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary(request: object, context: grpc.aio.ServicerContext) -> object:
                try:
                    token = await _enter(context)
                    try:
                        return await inner(request, context)
                    finally:
                        if token is not None:
                            _identity.reset(token)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await _abort(context, exc, method)

            return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer, handler.response_serializer)
        if handler.unary_stream:
            inner_stream = handler.unary_stream

            async def stream(request: object, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
                try:
                    token = await _enter(context)
                    try:
                        async for item in inner_stream(request, context):
                            yield item
                    finally:
                        if token is not None:
                            _identity.reset(token)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await _abort(context, exc, method)

            return grpc.unary_stream_rpc_method_handler(
                stream, handler.request_deserializer, handler.response_serializer
            )
        return handler


@dataclass
class ServiceRegistration:
    """What a service contributes to a server: its servicer, health name, and start/stop hooks."""

    name: str  # fully qualified, e.g. "arc.runs.v1.RunsService"
    add_to_server: Callable[[grpc.aio.Server], None]
    self_authenticated: tuple[str, ...] = ()
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Returns True when the service's backends answer; polled into the health status.
    ready: Callable[[], Awaitable[bool]] | None = None


class HealthReporter:
    """Per-service ``grpc.health.v1`` status, refreshed from each service's readiness check."""

    def __init__(self) -> None:
        self.servicer = health.aio.HealthServicer()

    async def set(self, service: str, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        await self.servicer.set(service, status)

    def add_to_server(self, server: grpc.aio.Server, names: Iterable[str]) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)


def build_server(authenticator: Authenticator) -> tuple[grpc.aio.Server, ServiceInterceptor]:
    """A server whose interceptor learns each service's self-authenticated methods as it is added."""
    interceptor = ServiceInterceptor(authenticator)
    server = grpc.aio.server(
        interceptors=[interceptor],
        options=[
            ("grpc.max_receive_message_length", 32 * 1024 * 1024),
            ("grpc.max_send_message_length", 32 * 1024 * 1024),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            # Clients keep one HTTP/2 connection per address; ageing it out spreads them over new replicas.
            # Long streams (WatchRun, log follow) get a grace period, then resume from their last position.
            ("grpc.max_connection_age_ms", 5 * 60 * 1000),
            ("grpc.max_connection_age_grace_ms", 60 * 60 * 1000),
        ],
    )
    return server, interceptor
