"""Moving files between the launch directory and the run's storage.

The run's storage is opened on the run root (``RUN_ROOT``: ``gs://bucket/runs/run-…`` or a local folder), so
every key here is relative to it (``inputs/params.yaml``, ``logs/nextflow.log``). Uploads are best effort:
a failure is retried with backoff and logged, and never decides how the run ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential

from arc_core.errors import Unavailable
from arc_core.storage import Storage, open_storage

log = logging.getLogger(__name__)

UPLOAD_ATTEMPTS = 4
DOWNLOAD_ATTEMPTS = 4
# A live copy re-sends the whole file: a big log (long nf-core runs reach tens of MB) goes less often,
# one second per MB since its last upload, at most a minute apart. The final upload is never held back.
LIVE_SECONDS_PER_MB = 1.0
LIVE_MAX_GAP_SECONDS = 60.0


def key_under(uri: str, root: str) -> str | None:
    """``uri`` as a key relative to ``root``, or None when it lies elsewhere."""
    if root.startswith("gs://") or uri.startswith("gs://"):
        root, uri = root.rstrip("/"), uri.rstrip("/")
    else:
        root, uri = os.path.normpath(root), os.path.normpath(uri)
    prefix = root + "/"
    return uri[len(prefix) :] if uri.startswith(prefix) and len(uri) > len(prefix) else None


async def read_input(uri: str, *, run_root: str, storage: Storage) -> bytes:
    """The bytes of one input file, normally a key of the run's storage; retried while unavailable."""
    key = key_under(uri, run_root)

    async def _read() -> bytes:
        if key is not None:
            return await storage.read_bytes(key)
        if uri.startswith("gs://"):  # elsewhere in a bucket: open storage on its folder
            parent, _, name = uri.rstrip("/").rpartition("/")
            other = await asyncio.to_thread(open_storage, parent)
            return await other.read_bytes(name)
        return await asyncio.to_thread(Path(uri).read_bytes)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Unavailable),
        stop=stop_after_attempt(DOWNLOAD_ATTEMPTS),
        wait=wait_exponential(multiplier=0.5, max=4),
        before_sleep=_log_retry(f"download of {uri}"),
        reraise=True,
    )
    data = b""
    async for attempt in retrying:
        with attempt:
            data = await _read()
    return data


def _log_retry(what: str):
    def _before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s failed (attempt %d: %s); retrying in %.1f s", what, state.attempt_number, exc, wait)

    return _before_sleep


class LogMirror:
    """Copies local files to storage keys, uploading a file only when it changed since its last upload."""

    def __init__(
        self, storage: Storage, files: Sequence[tuple[Path, str]], *, prefixes: Mapping[str, bytes] | None = None
    ) -> None:
        self.storage = storage
        self.files = list(files)
        # key -> bytes stored before the file's own (an earlier attempt's log): the stored copy only grows.
        self.prefixes = dict(prefixes or {})
        self._uploaded: dict[str, tuple[int, int]] = {}  # key -> (mtime_ns, size) of the uploaded copy
        self._uploaded_at: dict[str, float] = {}  # key -> monotonic time of its last upload
        self._failing: set[str] = set()

    async def _upload(self, path: Path, key: str, *, attempts: int, live: bool) -> bool:
        try:
            st = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return True  # nothing (yet) to upload
        signature = (st.st_mtime_ns, st.st_size)
        if self._uploaded.get(key) == signature:
            return True
        if live and key in self._uploaded_at:
            gap = min(LIVE_MAX_GAP_SECONDS, LIVE_SECONDS_PER_MB * st.st_size / 1_048_576)
            if time.monotonic() - self._uploaded_at[key] < gap:
                return True  # a big file: sent again later
        # Stat before reading: a write during the read leaves a newer signature for the next round.
        data = self.prefixes.get(key, b"") + await asyncio.to_thread(path.read_bytes)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.5, max=4),
            before_sleep=_log_retry(f"upload of {key}"),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self.storage.write_bytes(key, data)
        except Exception as exc:
            # A live copy that fails is tried again next round; say so once, not every few seconds.
            level = logging.DEBUG if key in self._failing and attempts == 1 else logging.WARNING
            log.log(level, "could not upload %s to %s: %s", path.name, self.storage.uri(key), exc)
            self._failing.add(key)
            return False
        self._uploaded[key] = signature
        self._uploaded_at[key] = time.monotonic()
        if key in self._failing:
            self._failing.discard(key)
            log.info("upload of %s works again", key)
        return True

    async def sync(self, *, attempts: int = 1, keys: Collection[str] | None = None, live: bool = False) -> list[str]:
        """Upload what changed (of ``keys``, default all); returns the keys that could not be uploaded."""
        chosen = [(path, key) for path, key in self.files if keys is None or key in keys]
        uploads = (self._upload(path, key, attempts=attempts, live=live) for path, key in chosen)
        results = await asyncio.gather(*uploads)
        return [key for (_path, key), ok in zip(chosen, results, strict=True) if not ok]

    async def run(self, interval: float, stop: asyncio.Event, *, keys: Collection[str] | None = None) -> None:
        """Sync ``keys`` every ``interval`` seconds until ``stop`` is set (the final upload is the caller's)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            try:
                await self.sync(keys=keys, live=True)
            except Exception:  # e.g. a read error: the next round tries again
                log.exception("live log upload failed")

    async def upload_final(self) -> list[str]:
        """The last upload of every file, each retried with backoff; returns the keys that failed."""
        failed = await self.sync(attempts=UPLOAD_ATTEMPTS)
        for key in failed:
            log.error("gave up uploading %s after %d attempts", self.storage.uri(key), UPLOAD_ATTEMPTS)
        return failed
