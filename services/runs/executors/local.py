"""The local executor: each run's orchestrator as a child process in its own process group.

Layout under ``state_dir`` (one folder per run, mode 0700)::

    <state_dir>/<run_id>/job.json          the job's state (mode 0600: holds the token while queued)
    <state_dir>/<run_id>/orchestrator.log  the orchestrator's stdout and stderr, appended
    <state_dir>/<run_id>/orchestrator.exit written by the orchestrator when it ends: {exit_code, finished_at}

At most ``max_concurrent`` orchestrators run at once; the others wait in a FIFO queue (their runs stay
``submitted``). ``job.json`` records the pid together with the process start time from ``/proc/<pid>/stat``
(and the boot id), so after a platform restart a new executor on the same folder re-queues jobs that never
started and recognises orchestrators that are still running, without mistaking a recycled pid for them.
Orchestrators run in their own session, so stopping or restarting the platform does not stop them; those
that ended while nobody watched are settled from their exit marker.

Limits: without ``/proc`` (macOS) a pid is checked with ``kill(pid, 0)`` only, so a recycled pid can look
alive. A crash in the instant between starting a process and recording its pid re-starts the job later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arc_core.contracts.job_environment import STATE_DIR_VARIABLE
from services.runs.executors.base import (
    TERMINAL_STATES,
    BackendUnavailable,
    JobCreationFailed,
    JobNotFound,
    JobSpec,
    JobState,
    JobStatus,
)
from services.runs.executors.processes import (
    boot_id,
    decode_returncode,
    group_alive,
    have_proc,
    is_alive,
    proc_stat,
    signal_group,
)

log = logging.getLogger(__name__)

JOB_PREFIX = "local/"
STATE_DIR_ENV = STATE_DIR_VARIABLE
JOB_FILE = "job.json"
LOG_FILE = "orchestrator.log"
EXIT_MARKER = "orchestrator.exit"
DEFAULT_COMMAND: tuple[str, ...] = (sys.executable, "-m", "orchestrator")

_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Never handed down to an orchestrator: it reports through its run token and must not reach a database
# (the platform's DATABASE_URL, the Benchling warehouse's ARC_BENCHLING_WAREHOUSE_URL, libpq's password).
_WITHHELD_ENV_RE = re.compile(r"(^|_)(DATABASE|WAREHOUSE)_URL$|^PGPASSWORD$|^PGPASSFILE$")
_KILL_WAIT = 5.0  # after SIGKILL, how long to wait for the group to vanish
_GROUP_POLL = 0.05

QUEUED, STARTED, ENDED, VANISHED = "queued", "started", "ended", "gone"


def _read_marker(folder: Path) -> tuple[int | None, str] | None:
    """The orchestrator's exit marker as (exit code, problem); None when there is none."""
    try:
        data = json.loads((folder / EXIT_MARKER).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return None, f"unreadable exit marker: {exc}"
    code = data.get("exit_code") if isinstance(data, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        return None, "the exit marker holds no exit code"
    return code, ""


def _orphan_outcome(folder: Path, pid: int | None, start_ticks: int | None) -> dict[str, Any] | None:
    """How an orchestrator we did not start ended; None while it still runs (``pid`` None: it cannot)."""
    if pid is not None and is_alive(pid, start_ticks):
        return None
    marker = _read_marker(folder)
    if marker is None:
        return {"state": VANISHED, "message": "the orchestrator process ended without writing its exit marker"}
    code, problem = marker
    return {"state": ENDED, "exit_code": code, "message": problem}


def _write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically with ``data``, readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load_records(state_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    found: list[tuple[Path, dict[str, Any]]] = []
    if not state_dir.is_dir():
        return found
    for entry in os.scandir(state_dir):
        path = Path(entry.path) / JOB_FILE
        if not entry.is_dir() or not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable local job state %s: %s", path, exc)
            continue
        if isinstance(record, dict) and record.get("run_id") == entry.name:
            found.append((Path(entry.path), record))
    return found


def _open_log(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def _prepare_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# --- the executor -----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Job:
    name: str
    folder: Path
    record: dict[str, Any]
    process: asyncio.subprocess.Process | None = None  # set only for children of this executor
    monitor: asyncio.Task[None] | None = None
    start_error: JobCreationFailed | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def state(self) -> str:
        return str(self.record["state"])


def _final_status(record: Mapping[str, Any]) -> JobStatus:
    code = record.get("exit_code")
    message = str(record.get("message") or "")
    if record.get("cancelled"):
        return JobStatus(JobState.GONE, code, "cancelled")
    if record["state"] == VANISHED:
        return JobStatus(JobState.GONE, None, message)
    if code == 0:
        return JobStatus(JobState.SUCCEEDED, 0, message)
    if code is None:
        return JobStatus(JobState.FAILED, None, message or "the orchestrator did not run")
    return JobStatus(JobState.FAILED, code, message or f"the orchestrator exited with code {code}")


def parse_job_name(job_name: str) -> str:
    """The run id in a ``local/<run_id>`` job name; JobNotFound for anything else."""
    run_id = job_name.removeprefix(JOB_PREFIX)
    if not job_name.startswith(JOB_PREFIX) or not _RUN_ID_RE.match(run_id):
        raise JobNotFound(f"{job_name!r} is not a local job name")
    return run_id


class LocalExecutor:
    """Runs orchestrators as local child processes, at most ``max_concurrent`` at once.

    Args:
        state_dir: the folder holding one sub-folder per run (``settings.data_dir / "executor"``).
        max_concurrent: how many orchestrators may run at once; the rest wait, first in first out.
        command: the orchestrator command line (an argument list; never run through a shell).
        cancel_grace: seconds between SIGTERM and SIGKILL when cancelling.
        poll_interval: how often orchestrators left by a previous executor are checked.
        base_env: the environment the orchestrators inherit (default: this process's); database
            credentials in it are withheld.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        max_concurrent: int,
        command: Sequence[str] = DEFAULT_COMMAND,
        cancel_grace: float = 10.0,
        poll_interval: float = 0.5,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if not command:
            raise ValueError("command must not be empty")
        self._state_dir = Path(state_dir).absolute()
        self._max = max_concurrent
        self._command = tuple(command)
        self._grace = cancel_grace
        self._poll = poll_interval
        self._base_env = dict(base_env) if base_env is not None else None
        self._jobs: dict[str, _Job] = {}
        self._queue: deque[str] = deque()
        self._running: set[str] = set()  # started, not yet seen ending (ours and orphans)
        self._lock = asyncio.Lock()  # guards submissions and starts
        self._start_lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self._boot: str | None = None

    # --- public API ---

    async def start(self) -> None:
        """Load the state left by a previous executor and start the queue worker (idempotent).

        Every other method calls it; call it at service start so that jobs queued before a restart start
        without waiting for a request.
        """
        if self._worker is not None or self._closed:
            return
        async with self._start_lock:
            if self._worker is not None or self._closed:
                return
            self._boot = await asyncio.to_thread(boot_id)
            records = await asyncio.to_thread(_load_records, self._state_dir)
            queued: list[_Job] = []
            for folder, record in records:
                job = _Job(JOB_PREFIX + folder.name, folder, record)
                self._jobs[job.name] = job
                if job.state == QUEUED:
                    queued.append(job)
                elif job.state == STARTED:
                    self._running.add(job.name)
                else:
                    job.ended.set()
            queued.sort(key=lambda j: (float(j.record.get("queued_at", 0)), j.name))
            self._queue.extend(j.name for j in queued)
            if records:
                log.info(
                    "local executor: %d job(s) found in %s, %d queued, %d started before",
                    len(records),
                    self._state_dir,
                    len(queued),
                    len(self._running),
                )
            self._worker = asyncio.create_task(self._work(), name="local-executor-queue")

    async def submit(self, spec: JobSpec) -> str:
        """Queue the run's orchestrator and start it at once if a slot is free; returns ``local/<run_id>``.

        Submitting a run that already has a job returns that job's name (a retried submit starts nothing).
        Raises JobCreationFailed when the orchestrator cannot be started.
        """
        if not _RUN_ID_RE.match(spec.run_id):
            raise JobCreationFailed(f"run id {spec.run_id!r} cannot name a local job folder")
        await self.start()
        if self._closed:
            raise BackendUnavailable("the local executor is closed")
        name = JOB_PREFIX + spec.run_id
        async with self._lock:
            if name in self._jobs:
                return name
            job = _Job(
                name,
                self._state_dir / spec.run_id,
                {
                    "job_name": name,
                    "run_id": spec.run_id,
                    "state": QUEUED,
                    "queued_at": time.time(),
                    "environment": spec.environment(),
                },
            )
            await asyncio.to_thread(_prepare_folder, job.folder)
            await self._save(job)
            self._jobs[name] = job
            self._queue.append(name)
        await self._fill_slots()  # after this, whoever tried, the job is started, failed to start or waits
        if job.start_error is not None:
            # Nothing half-created: forget the job, so that a later submit of this run tries again.
            self._jobs.pop(name, None)
            await asyncio.to_thread(_unlink, job.folder / JOB_FILE)
            raise job.start_error
        return name

    async def cancel(self, job_name: str) -> None:
        """Drop a queued job, or stop a running one: SIGTERM to its process group, SIGKILL after the grace.

        A job that has ended or that nobody knows is not an error.
        """
        job = await self._find(job_name)
        if job is None:
            return
        if job.state == QUEUED:
            with contextlib.suppress(ValueError):
                self._queue.remove(job.name)
            job.record.pop("environment", None)
            job.record.update(state=ENDED, cancelled=True, ended_at=time.time(), message="cancelled before it started")
            job.ended.set()
            await self._save(job)
            return
        if job.state != STARTED:
            return  # it has ended
        if job.process is None:
            if await self._settle_orphan(job):
                return  # started by a previous executor, and ended since
        elif job.process.returncode is not None:
            return  # it ended; its monitor records how
        job.record["cancelled"] = True
        await self._save(job)
        await self._stop_group(job)

    async def status(self, job_name: str) -> JobStatus:
        """QUEUED, RUNNING, SUCCEEDED / FAILED with the exit code, or GONE (cancelled, vanished, unknown)."""
        job = await self._find(job_name)
        if job is None:
            return JobStatus(JobState.GONE, None, "no such local job")
        if job.state == QUEUED:
            position = list(self._queue).index(job.name) + 1 if job.name in self._queue else 0
            return JobStatus(JobState.QUEUED, None, f"waiting for a free slot (position {position})")
        if job.state == STARTED:
            if job.process is not None:
                if job.process.returncode is None:
                    return JobStatus(JobState.RUNNING)
                code, message = decode_returncode(job.process.returncode)
                return _final_status({**job.record, "state": ENDED, "exit_code": code, "message": message})
            if not await self._settle_orphan(job):
                return JobStatus(JobState.RUNNING)
        return _final_status(job.record)

    async def wait(self, job_name: str, timeout: float) -> JobStatus:
        """The job's status once it has ended (SUCCEEDED, FAILED or GONE); TimeoutError after ``timeout`` s."""
        async with asyncio.timeout(timeout):
            while True:
                status = await self.status(job_name)
                job = self._jobs.get(job_name)
                if status.state in TERMINAL_STATES and (job is None or job.monitor is None or job.monitor.done()):
                    return status
                if job is not None and job.monitor is not None and not job.monitor.done():
                    await asyncio.wait({job.monitor}, timeout=self._poll)  # its exit recorded on return
                elif job is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(job.ended.wait(), self._poll)
                else:
                    await asyncio.sleep(self._poll)

    def queue_counts(self) -> tuple[int, int, int]:
        """(orchestrators running, jobs waiting for a slot, slots): the queue as it is now (GetSystemInfo)."""
        queued = sum(1 for name in self._queue if (job := self._jobs.get(name)) is not None and job.state == QUEUED)
        return len(self._running), queued, self._max

    async def close(self) -> None:
        """Stop the queue worker. Running orchestrators keep running (a restart must not kill runs)."""
        self._closed = True
        async with self._lock:  # let a start in progress finish recording its pid
            pass
        tasks = [t for t in (self._worker, *(j.monitor for j in self._jobs.values())) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- internals ---

    async def _find(self, job_name: str) -> _Job | None:
        parse_job_name(job_name)
        await self.start()
        return self._jobs.get(job_name)

    async def _save(self, job: _Job) -> None:
        async with job.save_lock:
            data = dict(job.record)
            await asyncio.to_thread(_write_private_json, job.folder / JOB_FILE, data)

    async def _work(self) -> None:
        """The queue worker: settles orphans that ended and starts queued jobs when slots free."""
        while True:
            self._wakeup.clear()
            try:
                for name in [n for n in self._running if self._jobs[n].process is None]:
                    await self._settle_orphan(self._jobs[name])
                await self._fill_slots()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("local executor: queue worker iteration failed")
            orphans = any(self._jobs[n].process is None for n in self._running)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll if orphans else None)

    async def _fill_slots(self) -> None:
        """Start queued jobs, oldest first, while slots are free."""
        async with self._lock:
            while self._queue and len(self._running) < self._max and not self._closed:
                job = self._jobs[self._queue.popleft()]
                if job.state != QUEUED:
                    continue
                try:
                    await self._start_job(job)
                except JobCreationFailed as exc:
                    log.warning("local executor: %s did not start: %s", job.name, exc.message)
                    job.start_error = exc
                    job.record.pop("environment", None)
                    job.record.update(state=ENDED, exit_code=None, ended_at=time.time(), message=exc.message)
                    job.ended.set()
                    await self._save(job)

    def _environment(self, job: _Job) -> dict[str, str]:
        base = self._base_env if self._base_env is not None else dict(os.environ)
        env = {k: v for k, v in base.items() if not _WITHHELD_ENV_RE.search(k)}
        env.update(job.record.get("environment") or {})
        env[STATE_DIR_ENV] = str(job.folder)
        return env

    async def _start_job(self, job: _Job) -> None:
        await asyncio.to_thread(_prepare_folder, job.folder)
        await asyncio.to_thread(_unlink, job.folder / EXIT_MARKER)
        log_fd = await asyncio.to_thread(_open_log, job.folder / LOG_FILE)
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                cwd=job.folder,
                env=self._environment(job),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own session and process group: cancel reaches every child
            )
        except OSError as exc:
            raise JobCreationFailed(f"cannot start the orchestrator ({self._command[0]}): {exc}") from exc
        finally:
            os.close(log_fd)
        stat = await asyncio.to_thread(proc_stat, process.pid) if have_proc() else None
        job.process = process
        job.record.pop("environment", None)  # the token now lives in the process only
        job.record.update(
            state=STARTED,
            pid=process.pid,
            start_ticks=stat.start_ticks if stat else None,
            boot_id=self._boot,
            started_at=time.time(),
        )
        self._running.add(job.name)
        job.monitor = asyncio.create_task(self._monitor(job), name=f"local-executor-{job.name}")
        await self._save(job)
        log.info("local executor: started %s as pid %d", job.name, process.pid)

    async def _monitor(self, job: _Job) -> None:
        """Reap our child (asyncio's child watcher waits off the event loop) and record its exit."""
        assert job.process is not None
        returncode = await job.process.wait()
        code, message = decode_returncode(returncode)
        job.record.update(state=ENDED, exit_code=code, message=message, ended_at=time.time())
        try:
            await self._save(job)
        except OSError:
            log.exception("local executor: cannot record the exit of %s", job.name)
        finally:
            self._running.discard(job.name)
            job.ended.set()
            self._wakeup.set()

    async def _settle_orphan(self, job: _Job) -> bool:
        """For an orchestrator a previous executor started: record its end if it ended; True if it has."""
        if job.state != STARTED:
            return True
        pid = None if self._boot_id_changed(job) else int(job.record["pid"])  # a reboot ended every process
        outcome = await asyncio.to_thread(_orphan_outcome, job.folder, pid, job.record.get("start_ticks"))
        if outcome is None:
            return False
        if job.state != STARTED:  # settled meanwhile
            return True
        job.record.update(outcome, ended_at=time.time())
        self._running.discard(job.name)
        job.ended.set()
        self._wakeup.set()
        await self._save(job)
        return True

    def _boot_id_changed(self, job: _Job) -> bool:
        recorded = job.record.get("boot_id")
        return bool(recorded) and recorded != self._boot

    async def _stop_group(self, job: _Job) -> None:
        pid, ticks = int(job.record["pid"]), job.record.get("start_ticks")
        if self._boot_id_changed(job):
            return
        if await asyncio.to_thread(signal_group, pid, ticks, signal.SIGTERM):
            if not await self._group_gone_within(pid, self._grace):
                log.warning("local executor: %s ignored SIGTERM for %.0f s; killing it", job.name, self._grace)
                await asyncio.to_thread(signal_group, pid, ticks, signal.SIGKILL)
                if not await self._group_gone_within(pid, _KILL_WAIT):
                    log.error("local executor: process group %d of %s survived SIGKILL", pid, job.name)
        if job.process is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(job.process.wait()), _KILL_WAIT)
        else:
            await self._settle_orphan(job)

    async def _group_gone_within(self, pgid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while await asyncio.to_thread(group_alive, pgid):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_GROUP_POLL)
        return True
