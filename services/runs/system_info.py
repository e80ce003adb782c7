"""Who am I and what the platform runs on: the checks of a user's preferences, the Nextflow version probe
and the system figures (``GetCurrentUser``, ``UpdatePreferences``, ``GetSystemInfo``).

The Nextflow version is found once, at start-up, by running ``<ARC_NEXTFLOW_BIN> -version`` in the
background (an argument list, never a shell, with a timeout): start-up never waits for it and never fails
because of it; until it answers, and if it cannot, the version is empty (and a warning is logged). On
Batch, runs use the orchestrator image's Nextflow, so the version is the setting ``ARC_NEXTFLOW_VERSION``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from arc_core.contracts.limits import MAX_JSON_DEPTH, json_depth
from arc_core.errors import FieldViolation, InvalidArgument

log = logging.getLogger(__name__)

MAX_PREFERENCES_BYTES = 16 * 1024
PROBE_TIMEOUT_SECONDS = 60.0  # the first `nextflow -version` of an install may download Nextflow itself
PROBE_OUTPUT_BYTES = 64 * 1024
RUNS_BY_STATUS_CACHE_SECONDS = 5.0
RUNS_BY_STATUS_STALE_SECONDS = 60.0

# Nextflow 24.04.4, modules/nextflow/src/main/groovy/nextflow/cli/Launcher.groovy (getVersion, SPLASH):
# `-version` prints the banner with "      version 24.04.4 build 5917"; `-v` prints
# "nextflow version 24.04.4.5917". Either is understood; the version is given without the build.
_BANNER_RE = re.compile(r"^\s*version\s+(\d+\.\d+\.\d+(?:-[A-Za-z0-9.]+)?)\s+build\s+\d+\s*$", re.MULTILINE)
_SHORT_RE = re.compile(r"^nextflow version (\d+\.\d+\.\d+(?:-[A-Za-z0-9]+)?)\.\d+\s*$", re.MULTILINE)


# --- preferences -------------------------------------------------------------------------------------


def check_preferences(preferences: Any) -> dict[str, Any]:
    """The preferences as stored: a JSON object of at most 16 KB (compact UTF-8 JSON) and
    :data:`MAX_JSON_DEPTH` levels; INVALID_ARGUMENT located at ``preferences`` otherwise."""

    def refuse(problem: str) -> InvalidArgument:
        return InvalidArgument("invalid preferences", [FieldViolation("preferences", problem)])

    if not isinstance(preferences, dict):
        raise refuse("must be a JSON object")
    if json_depth(preferences) > MAX_JSON_DEPTH:
        raise refuse(f"nests deeper than {MAX_JSON_DEPTH} levels of objects and arrays")
    size = len(json.dumps(preferences, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PREFERENCES_BYTES:
        raise refuse(f"is {size} bytes as JSON; the limit is {MAX_PREFERENCES_BYTES} bytes (16 KB)")
    return preferences


# --- the Nextflow version ----------------------------------------------------------------------------


def parse_nextflow_version(output: str) -> str:
    """The version in what ``nextflow -version`` (or ``-v``) printed, e.g. ``24.04.4``; empty if none."""
    found = _BANNER_RE.search(output) or _SHORT_RE.search(output)
    return found.group(1) if found else ""


async def probe_nextflow_version(nextflow_bin: str, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> str:
    """Run ``nextflow_bin -version`` and parse its output; empty (and a warning) when it cannot say."""
    try:
        process = await asyncio.create_subprocess_exec(
            nextflow_bin,
            "-version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        log.warning("cannot run %s -version to find the Nextflow version: %s", nextflow_bin, exc)
        return ""
    try:
        async with asyncio.timeout(timeout):
            assert process.stdout is not None
            output = b""
            while len(output) < PROBE_OUTPUT_BYTES:  # to the end of its output, bounded
                chunk = await process.stdout.read(PROBE_OUTPUT_BYTES - len(output))
                if not chunk:
                    break
                output += chunk
            await process.wait()
    except TimeoutError:
        log.warning("%s -version did not answer in %.0f s: the Nextflow version is unknown", nextflow_bin, timeout)
        return ""
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    version = parse_nextflow_version(output.decode(errors="replace"))
    if not version:
        log.warning(
            "%s -version (exit %s) printed no Nextflow version: %r", nextflow_bin, process.returncode, output[:200]
        )
    return version


class NextflowVersion:
    """The Nextflow version runs use: probed once in the background (local) or a fixed value (Batch)."""

    def __init__(self, *, nextflow_bin: str | None = None, fixed: str = "") -> None:
        self._bin = nextflow_bin
        self._value = fixed
        self._task: asyncio.Task[str] | None = None

    def start(self) -> None:
        """Start the probe (local executor only); returns at once."""
        if self._bin is not None and self._task is None:
            self._task = asyncio.create_task(probe_nextflow_version(self._bin), name="nextflow-version-probe")

    async def get(self, *, wait: float = 5.0) -> str:
        """The version, waiting up to ``wait`` seconds for a probe still under way (empty until it answers)."""
        if self._task is None:
            return self._value
        if not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), wait)
        if self._task.done() and not self._task.cancelled() and self._task.exception() is None:
            return self._task.result()
        return ""

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- the system figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutorQueue:
    """The local executor's orchestrators: running, waiting for a slot, and how many may run at once."""

    running: int = 0
    queued: int = 0
    capacity: int = 0


@dataclass(frozen=True)
class SystemInfo:
    version: str
    executor: str
    storage: str
    nextflow_version: str
    runs_by_status: dict[str, int]
    queue: ExecutorQueue
    work_retention_days: int


@dataclass
class SystemFigures:
    """What ``GetSystemInfo`` answers.

    Runs by status are platform totals: every signed-in user may ask (counts only, nothing about anyone's
    runs), and at a million runs a count reads every one (about 0.2 s), so a page polling it must not count
    each time. Counts younger than ``cache_seconds`` are answered as they are; older ones (up to
    ``stale_seconds``) are answered too while one recount runs in the background, so no caller waits for a
    count but the first (or after a long quiet spell).
    """

    version: str
    executor: str
    storage: str
    nextflow: NextflowVersion
    count_runs_by_status: Callable[[], Awaitable[dict[str, int]]]
    queue: Callable[[], ExecutorQueue]
    work_retention_days: int
    cache_seconds: float = RUNS_BY_STATUS_CACHE_SECONDS
    stale_seconds: float = RUNS_BY_STATUS_STALE_SECONDS
    _counts: tuple[float, dict[str, int]] | None = field(default=None, init=False)
    _counting: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _recount: asyncio.Task[None] | None = field(default=None, init=False)

    async def runs_by_status(self) -> dict[str, int]:
        age = time.monotonic() - self._counts[0] if self._counts is not None else None
        if age is None or age > max(self.stale_seconds, self.cache_seconds):
            async with self._counting:  # concurrent callers share one count
                if self._counts is None or time.monotonic() - self._counts[0] > self.cache_seconds:
                    await self._count()
        elif age > self.cache_seconds and (self._recount is None or self._recount.done()):
            self._recount = asyncio.create_task(self._count_in_background(), name="runs-by-status-recount")
        assert self._counts is not None
        return dict(self._counts[1])

    async def _count(self) -> None:
        self._counts = (time.monotonic(), await self.count_runs_by_status())

    async def _count_in_background(self) -> None:
        try:
            async with self._counting:
                await self._count()
        except Exception as exc:  # the stale counts stay; the next call tries again
            log.warning("could not count runs by status: %r", exc)

    async def info(self) -> SystemInfo:
        return SystemInfo(
            version=self.version,
            executor=self.executor,
            storage=self.storage,
            nextflow_version=await self.nextflow.get(),
            runs_by_status=await self.runs_by_status(),
            queue=self.queue(),
            work_retention_days=self.work_retention_days,
        )

    async def stop(self) -> None:
        """Cancel a recount under way and the Nextflow probe."""
        if self._recount is not None and not self._recount.done():
            self._recount.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recount
        await self.nextflow.stop()
