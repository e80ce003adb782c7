"""The gateway's channels give every unary call a deadline; server streams stay open past it."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from arc_core.grpc_client import open_channel


async def _slow_unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(2)
    return b"late"


async def _slow_stream(request: bytes, context: grpc.aio.ServicerContext):  # type: ignore[no-untyped-def]
    for i in range(3):
        await asyncio.sleep(0.3)
        yield bytes([i])


@pytest.fixture
async def address():  # type: ignore[no-untyped-def]
    server = grpc.aio.server()
    handlers = {
        "Slow": grpc.unary_unary_rpc_method_handler(_slow_unary),
        "Stream": grpc.unary_stream_rpc_method_handler(_slow_stream),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Slow", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def test_a_unary_call_without_a_deadline_gets_one(address: str) -> None:
    async with open_channel(address, unary_deadline_seconds=0.3) as channel:
        call = channel.unary_unary("/test.Slow/Slow")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(b"")
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        with pytest.raises(grpc.aio.AioRpcError):  # an explicit deadline is kept
            await call(b"", timeout=0.1)


async def test_a_stream_keeps_its_deadline_open(address: str) -> None:
    async with open_channel(address, unary_deadline_seconds=0.3) as channel:
        stream = channel.unary_stream("/test.Slow/Stream")
        items = [item async for item in stream(b"")]  # 0.9 s in all, past the unary deadline
        assert items == [b"\x00", b"\x01", b"\x02"]
