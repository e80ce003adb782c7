"""Server streams that survive a dropped connection: reopened from the last position seen, with backoff.

A stream is opened by a function that reads the caller's position each time (``after_sequence`` of
WatchRun, ``offset`` of StreamWorkflowLog, ``after_position`` of StreamTaskLogs), so a reconnect asks for
exactly what comes after the last item handed out. ``step`` sees every item first: it advances the position
and says whether the item is new (a repeat is dropped) and whether it is the last one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from arc_client.errors import from_rpc_error

# Codes a dropped connection or a stopping server ends a stream with. A call the client cancels itself
# raises asyncio.CancelledError instead, so CANCELLED here came from the other side.
RESUMABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


@dataclass(frozen=True)
class ReconnectPolicy:
    """How long to keep reopening a dropped stream: exponential backoff with jitter from ``initial`` up to
    ``max_wait`` seconds between attempts, for at most ``give_up_after`` seconds per outage (the clock
    restarts once a reopened stream answers)."""

    initial: float = 0.1
    max_wait: float = 5.0
    give_up_after: float = 60.0


def resumable(exc: BaseException) -> bool:
    if not isinstance(exc, grpc.aio.AioRpcError):
        return False
    if exc.code() in RESUMABLE_CODES:
        return True
    # A connection reset mid-stream can surface as INTERNAL (HTTP/2 RST_STREAM) rather than UNAVAILABLE.
    return exc.code() == grpc.StatusCode.INTERNAL and "RST_STREAM" in (exc.details() or "")


Step = Callable[[Any], tuple[bool, bool]]  # item -> (new, final)


async def _open(open_call: Callable[[], Any], policy: ReconnectPolicy) -> tuple[Any, Any]:
    """Open the stream and read its first item (or EOF), retrying while the server cannot be reached."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(resumable),
        wait=wait_exponential_jitter(initial=policy.initial, max=policy.max_wait),
        stop=stop_after_delay(policy.give_up_after),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            call = open_call()
            try:
                return call, await call.read()
            except BaseException:
                call.cancel()
                raise
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover


async def resuming_stream(open_call: Callable[[], Any], step: Step, policy: ReconnectPolicy) -> AsyncIterator[Any]:
    """Every new item of the stream, reconnecting after a drop until the final item or a clean end.

    The first connection is not retried (a wrong address or a refused call fails at once, as a unary call
    would); only a stream that had answered and then dropped is reopened."""
    call = open_call()
    try:
        item = await call.read()
    except grpc.aio.AioRpcError as exc:
        call.cancel()
        raise from_rpc_error(exc) from None
    idle_drops = 0  # drops in a row of streams that gave nothing new: back off before reopening those
    while True:
        try:
            while item is not grpc.aio.EOF:
                new, final = step(item)
                if new:
                    idle_drops = 0
                    yield item
                if final:
                    return
                item = await call.read()
            return  # the server ended the stream: nothing more will come
        except grpc.aio.AioRpcError as exc:
            if not resumable(exc):
                raise from_rpc_error(exc) from None
        finally:
            call.cancel()
        if idle_drops:
            await asyncio.sleep(min(policy.max_wait, policy.initial * 2 ** (idle_drops - 1)))
        idle_drops += 1
        try:
            call, item = await _open(open_call, policy)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
