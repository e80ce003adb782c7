"""Server-side gRPC plumbing shared by every service: identity, error mapping, health, reflection.

One interceptor wraps every handler so that (1) the caller is authenticated before the method runs
and is available through :func:`current_identity`, and (2) a domain exception becomes a rich status.

A service may also open a *side server*: a second port serving a few self-authenticated methods only
(Runs' status port, which orchestrators on Batch VMs reach). Nothing there takes a caller identity.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

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


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> NoReturn:
    if not isinstance(exc, errors.ArcError):
        # A bug, not a handled case: log it whole, tell the caller only that it happened.
        log.exception("unhandled error in %s", method, exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error")
    status = to_status(exc)
    await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call (except ``self_authenticated`` methods) and maps domain errors.

    Without an authenticator (a side server) no caller identity is ever taken from the metadata: a method
    that is not self-authenticated is refused as UNAUTHENTICATED whatever headers it carries.
    """

    def __init__(self, authenticator: Authenticator | None, *, self_authenticated: Iterable[str] = ()) -> None:
        self.authenticator = authenticator
        self.self_authenticated = set(self_authenticated)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        needs_identity = method not in self.self_authenticated
        authenticator = self.authenticator

        async def _enter(context: grpc.aio.ServicerContext) -> contextvars.Token | None:
            if not needs_identity:
                return None
            if authenticator is None:
                raise errors.Unauthenticated("this port serves only self-authenticated methods")
            identity = await authenticator.authenticate(metadata_dict(context), method)
            return _identity.set(identity)

        if handler.unary_unary:
            inner: Any = handler.unary_unary  # an async behaviour (grpc's stubs type the sync one)

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
            inner_stream: Any = handler.unary_stream

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
    # Further ports of this service, each serving a few self-authenticated methods only.
    side_servers: list[SideServer] = field(default_factory=list)


SIDE_MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass
class SideServer:
    """A second port of a service: only ``add_to_server``'s methods (each one self-authenticated) and
    ``grpc.health.v1`` for the service's name; no reflection, no caller identity, small messages."""

    name: str  # what the port is for, e.g. "status" (logs, and Platform.side_ports)
    port: int  # 0 = any free port
    add_to_server: Callable[[grpc.aio.Server], None]
    self_authenticated: tuple[str, ...]
    max_message_bytes: int = SIDE_MAX_MESSAGE_BYTES
    # Told the port actually bound, before the service's on_start hooks run.
    on_bound: Callable[[int], None] | None = None


def servicer_methods(
    add_servicer_to_server: Callable[[object, object], None], servicer: object
) -> tuple[str, dict[str, grpc.RpcMethodHandler]]:
    """The service name and method handlers that a generated ``add_XServicer_to_server`` registers,
    so that a port can serve a subset of them (see :func:`add_methods`) without retyping serializers."""
    captured: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    class _Recorder:
        def add_generic_rpc_handlers(self, handlers: object) -> None:
            pass

        def add_registered_method_handlers(self, name: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
            captured[name] = dict(handlers)

    add_servicer_to_server(servicer, _Recorder())
    ((name, handlers),) = captured.items()
    return name, handlers


def add_methods(server: grpc.aio.Server, service: str, handlers: Mapping[str, grpc.RpcMethodHandler]) -> None:
    """Serve these methods of ``service`` on ``server`` (any other method of it is UNIMPLEMENTED there)."""
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, dict(handlers)),))
    server.add_registered_method_handlers(service, dict(handlers))


class HealthReporter:
    """Per-service ``grpc.health.v1`` status, refreshed from each service's readiness check.

    Side servers get their own health servicer that mirrors only their service's names; there the overall
    status (``""``) is whether all of those are serving.
    """

    def __init__(self) -> None:
        self.servicer = health.aio.HealthServicer()
        self._serving: dict[str, bool] = {}
        self._mirrors: list[tuple[health.aio.HealthServicer, frozenset[str]]] = []

    async def set(self, service: str, serving: bool) -> None:
        await self.servicer.set(service, _health_status(serving))
        self._serving[service] = serving
        for servicer, names in self._mirrors:
            if service in names:
                await servicer.set(service, _health_status(serving))
                await servicer.set("", _health_status(all(self._serving.get(n, False) for n in names)))

    def add_to_server(self, server: grpc.aio.Server, names: Iterable[str]) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)

    def add_to_side_server(self, server: grpc.aio.Server, names: Collection[str]) -> None:
        """Health (no reflection) for ``names`` only, set with the main port's by :meth:`set`."""
        servicer = health.aio.HealthServicer()
        self._mirrors.append((servicer, frozenset(names)))
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)


def _health_status(serving: bool) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    return health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING


def build_server(authenticator: Authenticator) -> tuple[grpc.aio.Server, ServiceInterceptor]:
    """A server whose interceptor learns each service's self-authenticated methods as it is added."""
    interceptor = ServiceInterceptor(authenticator)
    server = grpc.aio.server(
        interceptors=[interceptor],
        options=[
            # gRPC sets SO_REUSEPORT by default: a second process on a taken port would share it silently.
            ("grpc.so_reuseport", 0),
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


def build_side_server(side: SideServer) -> grpc.aio.Server:
    """A server for a :class:`SideServer`: identity never taken from metadata, messages of a bounded size."""
    interceptor = ServiceInterceptor(None, self_authenticated=side.self_authenticated)
    return grpc.aio.server(
        interceptors=[interceptor],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", side.max_message_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.max_connection_age_ms", 5 * 60 * 1000),
            ("grpc.max_connection_age_grace_ms", 60 * 1000),
        ],
    )
