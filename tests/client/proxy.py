"""A real gRPC proxy in front of the platform that can drop server streams, to test the client's resume.

It forwards every call as raw bytes (no messages are parsed on the way) with the caller's metadata, and
passes failures back with their code, text and trailing details. ``cut_after[method] = n`` ends every
stream of that method with UNAVAILABLE after ``n`` messages, as a dropped connection would look to the
client; stopping the proxy and starting it again on the same port drops the connection itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from arc.benchling.v1 import benchling_service_pb2
from arc.logs.v1 import logs_service_pb2
from arc.pipelines.v1 import pipelines_service_pb2
from arc.runs.v1 import runs_service_pb2

_SERVER_STREAMING = {
    f"/{service.full_name}/{method.name}": method.server_streaming
    for module in (runs_service_pb2, logs_service_pb2, pipelines_service_pb2, benchling_service_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
}


def _forwarded(context: grpc.aio.ServicerContext) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (key, value)
        for key, value in context.invocation_metadata() or ()
        if not key.startswith((":", "grpc-")) and key != "user-agent"
    )


class CuttingProxy(grpc.GenericRpcHandler):
    def __init__(self, target: str) -> None:
        self.target = target
        self.cut_after: dict[str, int] = {}
        self.requests: list[tuple[str, bytes]] = []  # (method, request bytes) of every call, in order
        self.cuts = 0
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._channel: grpc.aio.Channel | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def requests_of(self, method: str) -> list[bytes]:
        return [body for name, body in self.requests if name.endswith("/" + method)]

    async def start(self) -> None:
        """Listen (on the same port as before when restarted)."""
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.target)
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((self,))
        self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Drop every connection and call at once (no grace)."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop(None)

    async def close(self) -> None:
        await self.stop()
        if self._channel is not None:
            await self._channel.close()

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method  # type: ignore[attr-defined]
        streaming = _SERVER_STREAMING.get(method)
        if streaming is None:
            return None
        if streaming:
            return grpc.unary_stream_rpc_method_handler(self._stream_handler(method))
        return grpc.unary_unary_rpc_method_handler(self._unary_handler(method))

    def _unary_handler(self, method: str) -> Any:
        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.requests.append((method, request))
            assert self._channel is not None
            try:
                return await self._channel.unary_unary(method)(
                    request, metadata=_forwarded(context), timeout=context.time_remaining()
                )
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "", trailing_metadata=exc.trailing_metadata())
                raise  # unreachable: abort raises

        return handle

    def _stream_handler(self, method: str) -> Any:
        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            self.requests.append((method, request))
            assert self._channel is not None
            call = self._channel.unary_stream(method)(request, metadata=_forwarded(context))
            sent = 0
            try:
                async for message in call:
                    yield message
                    sent += 1
                    limit = self.cut_after.get(method.rsplit("/", 1)[1])
                    if limit is not None and sent >= limit:
                        self.cuts += 1
                        await context.abort(grpc.StatusCode.UNAVAILABLE, "connection cut by the test proxy")
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "", trailing_metadata=exc.trailing_metadata())
            finally:
                with contextlib.suppress(Exception):
                    call.cancel()

        return handle
