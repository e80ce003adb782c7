"""Client-side helpers: one channel per address, identity forwarding, domain exceptions for errors.

Callers get the project's exceptions (``NotFound``, ``InvalidArgument`` with its violations, …)
instead of raw ``grpc.RpcError``s, so an error crosses any number of services unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from arc_core.grpc_errors import from_rpc_error
from arc_core.identity import Identity

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
METADATA_LIMIT_BYTES = 4 * 1024 * 1024


class DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    """Gives every unary call that has none a deadline; streams keep theirs open (no interceptor here)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        if client_call_details.timeout is None:
            client_call_details = client_call_details._replace(timeout=self.seconds)
        return await continuation(client_call_details, request)


def open_channel(address: str, *, unary_deadline_seconds: float | None = None) -> grpc.aio.Channel:
    """An insecure channel: inside a cluster the mesh or the load balancer carries TLS.

    ``unary_deadline_seconds``: the deadline of every unary call that sets none (the gateway's calls)."""
    interceptors = [DefaultDeadline(unary_deadline_seconds)] if unary_deadline_seconds else None
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.max_receive_message_length", 32 * 1024 * 1024),
            # An error's status and details travel as trailing metadata, and they may quote a long input
            # back: past gRPC's default 16 KiB the call would fail as RESOURCE_EXHAUSTED (a REST 429).
            ("grpc.max_metadata_size", METADATA_LIMIT_BYTES),
            ("grpc.absolute_max_metadata_size", METADATA_LIMIT_BYTES),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 1),
        ],
        interceptors=interceptors,
    )


def metadata_for(identity: Identity | None) -> tuple[tuple[str, str], ...]:
    """The identity headers to forward on a call made on the caller's behalf."""
    return identity.credentials if identity is not None else ()


def translate(error: grpc.aio.AioRpcError) -> Exception:
    domain = from_rpc_error(error)
    return domain if domain is not None else error


async def unary(
    method: Callable[..., Awaitable[T]],
    request: Any,
    *,
    identity: Identity | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> T:
    """Call a unary method of a generated stub, raising domain exceptions."""
    try:
        return await method(request, metadata=metadata_for(identity) + metadata, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        raise translate(exc) from None


async def stream(
    method: Callable[..., Any],
    request: Any,
    *,
    identity: Identity | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
    timeout: float | None = None,
) -> AsyncIterator[Any]:
    """Iterate a server-streaming method of a generated stub, raising domain exceptions."""
    call = method(request, metadata=metadata_for(identity) + metadata, timeout=timeout)
    try:
        async for item in call:
            yield item
    except grpc.aio.AioRpcError as exc:
        raise translate(exc) from None
    finally:
        call.cancel()
