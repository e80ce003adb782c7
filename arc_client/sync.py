"""A thin synchronous face over :class:`arc_client.ArcClient`, for scripts and the CLI.

    with SyncArcClient("localhost:50051", as_email="alice@example.com") as arc:
        run = arc.runs.create_run(pipeline="demo/hello", ...)
        for event in arc.runs.watch_run(run.run_id):
            ...

Every method of the async facades is here with the same arguments: coroutines return their result, async
iterators become plain iterators.

Why a private event loop in a background thread rather than ``asyncio.run`` per call: a ``grpc.aio``
channel belongs to the loop it was created on, so ``asyncio.run`` per call would open (and tear down) a
connection per call, and an iterator (``watch_run``, ``list_runs``) could not outlive the call that made
it. One loop in one daemon thread keeps one channel for the client's life, lets iterators pull item by
item, and works even where the calling thread already runs a loop (a notebook), where ``asyncio.run``
refuses.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from arc_client.client import ArcClient

T = TypeVar("T")


class _Loop:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="arc-client", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            raise RuntimeError("a SyncArcClient cannot be called from its own event loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class _SyncFacade:
    """The methods of one async facade, called on the client's loop."""

    def __init__(self, facade: object, loop: _Loop) -> None:
        self._facade = facade
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._facade, name)
        if not callable(method):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            async def invoke() -> Any:  # made on the loop: stubs and calls belong to the channel's loop
                result = method(*args, **kwargs)
                return await result if inspect.isawaitable(result) else result

            result = self._loop.run(invoke())
            if isinstance(result, AsyncIterator):
                return _iterate(result, self._loop)
            return result

        call.__name__ = name
        call.__doc__ = method.__doc__
        return call


def _iterate(source: AsyncIterator[T], loop: _Loop) -> Iterator[T]:
    async def next_item() -> tuple[bool, T | None]:
        try:
            return True, await anext(source)
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            more, item = loop.run(next_item())
            if not more:
                return
            yield item  # type: ignore[misc]
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:  # a caller that stops early: cancel the stream on the loop
            loop.run(aclose())


class SyncArcClient:
    """:class:`ArcClient` with blocking calls; the same arguments. Use as a context manager, or ``close()``."""

    def __init__(self, address: str, **options: Any) -> None:
        self._loop = _Loop()
        self._client = ArcClient(address, **options)
        try:
            self._loop.run(self._open())
        except BaseException:
            self._loop.stop()
            raise
        self.runs: Any = _SyncFacade(self._client.runs, self._loop)
        self.logs: Any = _SyncFacade(self._client.logs, self._loop)
        self.pipelines: Any = _SyncFacade(self._client.pipelines, self._loop)
        self.benchling: Any = _SyncFacade(self._client.benchling, self._loop)

    async def _open(self) -> None:
        self._client.open()

    def close(self) -> None:
        if self._loop.thread.is_alive():
            self._loop.run(self._client.close())
            self._loop.stop()

    def __enter__(self) -> SyncArcClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
