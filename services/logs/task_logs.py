"""A task's stdout and stderr: work-dir files (local) or Cloud Logging (Google Batch), read or followed.

Both backends bound what they return (the *last* ``max_bytes`` of each stream, like Nextflow's error report
shows the tail of ``.command.err``) and give followers an opaque resume position. Nothing here imports grpc.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from arc_core.contracts import run_layout as layout
from arc_core.errors import FailedPrecondition, FieldViolation, InvalidArgument
from arc_core.storage import LocalStorage, Storage, safe_key
from services.logs.runs import RunView
from services.logs.tasks import TaskRef

STDOUT = "stdout"
STDERR = "stderr"
_FILES = {STDOUT: ".command.out", STDERR: ".command.err"}


@dataclass(frozen=True)
class TaskLogs:
    stdout: str
    stderr: str
    truncated: bool


@dataclass(frozen=True)
class TaskLogChunk:
    stream: str
    """``stdout`` or ``stderr``."""
    text: str
    position: str
    """Opaque: resume after this chunk."""


Finished = Callable[[], Awaitable[bool]]


class TaskLogBackend(Protocol):
    async def get(self, run: RunView, task: TaskRef) -> TaskLogs: ...

    def follow(self, run: RunView, task: TaskRef, after: str, finished: Finished) -> AsyncIterator[TaskLogChunk]:
        """Output after position ``after`` ("" = from the start) as it is written, until ``finished()``."""
        ...


def encode_position(kind: str, *parts: object) -> str:
    raw = ":".join([kind, *map(str, parts)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(token: str, kind: str) -> list[str] | None:
    """The parts of a position made by :func:`encode_position` for ``kind``; None for ""."""
    if not token:
        return None
    bad = InvalidArgument(
        "invalid after_position",
        [FieldViolation("after_position", "not a position issued by this service for this task")],
    )
    if len(token) > 512:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise bad from None
    head, _, rest = raw.partition(":")
    if head != kind:
        raise bad
    return rest.split(":")


def utf8_prefix(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that does not end inside a UTF-8 sequence."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte < 0x80:
            return n
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return n if back >= need else n - back
    return n


def decode_tail(data: bytes) -> str:
    """Text of bytes that may start inside a UTF-8 sequence (the tail of a file)."""
    start = 0
    while start < min(3, len(data)) and 0x80 <= data[start] < 0xC0:
        start += 1
    return data[start:].decode("utf-8", "replace")


def work_roots(storage: Storage, run: RunView) -> list[str]:
    """Keys of the work dirs a run's tasks can live in: its own, and a recovery's reused one."""
    roots = [layout.work_prefix(run.run_id)]
    if run.reused_work_dir:
        key = storage_key(storage, run.reused_work_dir)
        if key is not None and key not in roots:
            roots.append(key)
    return roots


def storage_key(storage: Storage, uri: str) -> str | None:
    """The key of a URI or path under the storage root (``gs://b/p/runs/…`` or ``/data/…``), or None."""
    prefix = storage.uri("x")[:-1]
    uri = uri.rstrip("/")
    if not uri.startswith(prefix):
        return None
    try:
        return safe_key(uri[len(prefix) :])
    except InvalidArgument:
        return None


class FileTaskLogs:
    """``.command.out`` / ``.command.err`` in the task's work dir, through the storage interface.

    The work dir comes from the trace's ``workdir`` column when present and inside one of the run's work
    dirs, else from the hash: ``ab/cdef12`` names the folder ``WORK/ab/cdef12…``.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        max_bytes: int = 1 << 20,
        chunk_bytes: int = 64 << 10,
        poll_seconds: float = 0.5,
    ) -> None:
        self.storage = storage
        self.max_bytes = max_bytes
        self.chunk_bytes = chunk_bytes
        self.poll_seconds = poll_seconds
        self._dirs: dict[tuple[str, str], str] = {}

    async def task_dir(self, run: RunView, task: TaskRef) -> str:
        """Key of the task's work dir; FailedPrecondition when it is gone (work dirs expire)."""
        roots = work_roots(self.storage, run)
        if task.workdir:
            key = storage_key(self.storage, task.workdir)
            if key is not None and any(key.startswith(root + "/") for root in roots):
                return key
        if not task.full_hash or len(task.full_hash) < 8:
            raise FailedPrecondition(f"task {task.task_id or task.hash} has no work dir to read")
        cache_key = (run.run_id, task.full_hash)
        found = self._dirs.get(cache_key)
        if found is None:
            for root in roots:
                found = await self._match(root, task.full_hash[:2], task.full_hash[2:])
                if found is not None:
                    break
            if found is None:
                raise FailedPrecondition(
                    f"the work dir of task {task.task_id or task.hash} is gone (work dirs expire after 30 days)"
                )
            if len(self._dirs) > 4096:
                self._dirs.clear()
            self._dirs[cache_key] = found
        return found

    async def _match(self, root: str, bucket: str, rest: str) -> str | None:
        """``root/bucket/rest…``: one directory listing, not a walk."""
        if isinstance(self.storage, LocalStorage):
            folder = self.storage.root / root / bucket

            def _scan() -> list[str]:
                try:
                    with os.scandir(folder) as it:
                        return sorted(e.name for e in it if e.name.startswith(rest) and e.is_dir())
                except (FileNotFoundError, NotADirectoryError):
                    return []

            names = await asyncio.to_thread(_scan)
            return f"{root}/{bucket}/{names[0]}" if names else None
        # Object storage: list the bucket folder, keep the first task folder that matches.
        depth = root.count("/") + 2
        for info in await self.storage.list(f"{root}/{bucket}"):
            parts = info.key.split("/")
            if len(parts) > depth and parts[depth].startswith(rest):
                return "/".join(parts[: depth + 1])
        return None

    async def _read_tail(self, key: str) -> tuple[str, bool]:
        info = await self.storage.stat(key)
        if info is None:
            return "", False
        if info.size <= self.max_bytes:
            return (await self.storage.read_range(key, 0, info.size)).decode("utf-8", "replace"), False
        return decode_tail(await self.storage.read_range(key, info.size - self.max_bytes, info.size)), True

    async def get(self, run: RunView, task: TaskRef) -> TaskLogs:
        folder = await self.task_dir(run, task)
        (out, out_cut), (err, err_cut) = await asyncio.gather(
            self._read_tail(f"{folder}/{_FILES[STDOUT]}"), self._read_tail(f"{folder}/{_FILES[STDERR]}")
        )
        return TaskLogs(stdout=out, stderr=err, truncated=out_cut or err_cut)

    async def follow(self, run: RunView, task: TaskRef, after: str, finished: Finished) -> AsyncIterator[TaskLogChunk]:
        parts = decode_position(after, "f")
        try:
            offsets = {STDOUT: int(parts[0]), STDERR: int(parts[1])} if parts else {STDOUT: 0, STDERR: 0}
        except (ValueError, IndexError):
            raise InvalidArgument("invalid after_position", [FieldViolation("after_position", "malformed")]) from None
        if min(offsets.values()) < 0:
            raise InvalidArgument("invalid after_position", [FieldViolation("after_position", "malformed")])
        folder = await self.task_dir(run, task)
        while True:
            # Decide "done" before reading, so the last read sees everything written before the end.
            done = await finished() or await self.storage.stat(f"{folder}/.exitcode") is not None
            for stream, name in _FILES.items():
                key = f"{folder}/{name}"
                info = await self.storage.stat(key)
                while info is not None and offsets[stream] < info.size:
                    start = offsets[stream]
                    data = await self.storage.read_range(key, start, min(info.size, start + self.chunk_bytes))
                    if not data:
                        break
                    usable = len(data) if done and start + len(data) >= info.size else utf8_prefix(data)
                    if usable == 0:
                        break  # the rest of a character is on its way
                    offsets[stream] = start + usable
                    yield TaskLogChunk(
                        stream,
                        data[:usable].decode("utf-8", "replace"),
                        encode_position("f", offsets[STDOUT], offsets[STDERR]),
                    )
            if done:
                return
            await asyncio.sleep(self.poll_seconds)
