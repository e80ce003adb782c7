"""The orchestrator: supervises one ``nextflow run`` for one run and reports how it goes.

Started by an executor (a Cloud Batch job, or a child process of the local executor) with the environment
of ``JobSpec.environment()``. It downloads the run's config and params, runs Nextflow in a fresh launch
directory (an argument list, never a shell string), reports ``running``, copies the log and trace to the
run's ``logs/`` while Nextflow runs, uploads the final logs, reports ``completed`` or ``failed`` and exits
with Nextflow's exit status. SIGTERM/SIGINT (cancel, spot preemption) are forwarded to Nextflow.

Resume on an ephemeral VM: the session id is pinned (``NXF_UUID``), the task cache lives next to the work
dir (``NXF_CLOUDCACHE_PATH`` on object storage, ``NXF_CACHE_DIR`` on a local disk), and a recovery runs
``-resume <parent session>`` with ``NXF_IGNORE_RESUME_HISTORY=true`` (the new VM has no ``.nextflow/history``)
and a new ``-name``. A retried attempt of the same job (Cloud Batch after a preemption,
``BATCH_TASK_RETRY_ATTEMPT`` > 0) resumes the run's own session the same way and keeps the earlier
attempt's logs under ``logs/attempts/N/``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arc_core.contracts import run_layout as layout
from arc_core.contracts.job_environment import RUN_TOKEN_VARIABLE, STATE_DIR_VARIABLE
from arc_core.contracts.run_status import TERMINAL
from arc_core.errors import ArcError, FailedPrecondition, NotFound
from arc_core.nextflow_cache import CLOUD_CACHE_VARIABLE, LOCAL_CACHE_VARIABLE, cache_variable_for
from arc_core.storage import Storage, open_storage
from orchestrator.config import ConfigError, OrchestratorConfig
from orchestrator.logsync import LogMirror, read_input
from orchestrator.nextflow_outcome import parse_outcome
from orchestrator.status_client import StatusClient, current_status
from orchestrator.trace_stats import trace_counts

log = logging.getLogger("orchestrator")

NEXTFLOW_INSTALL_URL = "https://www.nextflow.io/docs/latest/install.html"
EXIT_CANNOT_EXECUTE = 127
EXIT_BAD_ENVIRONMENT = 2
EXIT_MARKER = "orchestrator.exit"
# Files in the launch dir -> keys in the run's storage. The first two are copied live.
LIVE_LOGS = ((".nextflow.log", layout.log_in_run(layout.NEXTFLOW_LOG)), ("trace.txt", layout.log_in_run(layout.TRACE)))
FINAL_LOGS = (
    *LIVE_LOGS,
    ("timeline.html", layout.log_in_run(layout.TIMELINE)),
    ("report.html", layout.log_in_run(layout.REPORT)),
)
FAILURE_KINDS = {"task_failure": "task", "launch_error": "launch", "killed": "killed", "unknown_failure": "unknown"}
STDERR_TAIL_BYTES = 64 * 1024
# After a stop signal the platform may kill us soon (spot preemption gives ~30 s): report briefly.
REPORT_SECONDS_WHEN_STOPPING = 10.0
ENV_NOT_FOR_NEXTFLOW = (RUN_TOKEN_VARIABLE,)  # pipeline tasks must not be able to report for the run


# --------------------------------------------------------------------------------------------------
# pure helpers


def resolve_executable(name: str) -> str | None:
    """The absolute path of the Nextflow executable (a path or a name on PATH), or None."""
    found = shutil.which(name)
    return os.path.abspath(found) if found else None


def cannot_run_nextflow_message(name: str, error: BaseException | None = None) -> str:
    reason = f": {error}" if error is not None else ""
    return (
        f"The Nextflow executable {name!r} was not found or cannot be executed{reason}. "
        f"Install Nextflow ({NEXTFLOW_INSTALL_URL}) and set ARC_NEXTFLOW_BIN to its path."
    )


def run_name_for(run_id: str) -> str:
    """A Nextflow run name that is new in any launch dir and valid (``^[a-z](?:[a-z\\d]|[-_](?=[a-z\\d])){0,79}$``)."""
    base = re.sub(r"[^a-z0-9]+", "-", run_id.lower()).strip("-") or "run"
    if not base[0].isalpha():
        base = "r" + base
    return f"{base[:60].rstrip('-')}-{secrets.token_hex(3)}"


def nextflow_command(
    nextflow: str, config: OrchestratorConfig, launch: Path, config_file: Path, params_file: Path, run_name: str
) -> list[str]:
    """The ``nextflow run`` argument list (explicit report paths: Nextflow's defaults carry timestamps)."""
    args = [
        nextflow,
        "run",
        config.pipeline,
        "-r",
        config.pipeline_version,
        "-c",
        str(config_file),
        "-params-file",
        str(params_file),
        "-work-dir",
        config.work_dir,
        "-with-trace",
        str(launch / "trace.txt"),
        "-with-timeline",
        str(launch / "timeline.html"),
        "-with-report",
        str(launch / "report.html"),
        "-name",
        run_name,
        "-ansi-log",
        "false",
    ]
    if config.resume_session:
        args += ["-resume", config.resume_session]
    return args


def nextflow_environment(environ: Mapping[str, str], config: OrchestratorConfig) -> dict[str, str]:
    """Our environment minus the run token, with the session pinned and the cache in storage."""
    env = {k: v for k, v in environ.items() if k not in ENV_NOT_FOR_NEXTFLOW}
    env["NXF_UUID"] = config.session_id
    for variable in (CLOUD_CACHE_VARIABLE, LOCAL_CACHE_VARIABLE):
        env.pop(variable, None)
    env[cache_variable_for(config.cache_uri)] = config.cache_uri
    env["NXF_ANSI_LOG"] = "false"
    if config.resume_session:
        # A fresh VM has no .nextflow/history: without this `-resume SESSION` is refused.
        env["NXF_IGNORE_RESUME_HISTORY"] = "true"
    else:
        env.pop("NXF_IGNORE_RESUME_HISTORY", None)
    return env


BOUNDARY_MARK = b"arc.orchestrator - ==== attempt "
# The earlier attempts' log a retried attempt's live log starts with: re-uploaded with every sync.
MAX_CARRIED_LOG_BYTES = 16 * 1024 * 1024


def attempt_boundary_line(number: int, session: str) -> str:
    """A ``.nextflow.log`` line (Nextflow's own layout, so log readers parse it) between two attempts."""
    stamp = datetime.now().strftime("%b-%d %H:%M:%S.%f")[:-3]
    return (
        f"{stamp} [main] WARN  arc.orchestrator - ==== attempt {number}: the VM of attempt {number - 1} was"
        f" preempted; resuming session {session} in the same work dir ====\n"
    )


def own_attempt_lines(log_text: bytes) -> bytes:
    """The part of a live ``nextflow.log`` that its last attempt wrote: from the last boundary line on."""
    at = log_text.rfind(BOUNDARY_MARK)
    if at < 0:
        return log_text  # the first attempt: all of it
    return log_text[log_text.rfind(b"\n", 0, at) + 1 :]


def carried_log_prefix(log_text: bytes) -> bytes:
    """What the next attempt's live log starts with: the log so far, at most ``MAX_CARRIED_LOG_BYTES`` of
    its tail (from a line start), with a line saying what was left out; always ending with a newline."""
    if log_text and not log_text.endswith(b"\n"):
        log_text += b"\n"
    if len(log_text) <= MAX_CARRIED_LOG_BYTES:
        return log_text
    tail = log_text[-MAX_CARRIED_LOG_BYTES:]
    tail = tail[tail.find(b"\n") + 1 :]
    left_out = len(log_text) - len(tail)
    stamp = datetime.now().strftime("%b-%d %H:%M:%S.%f")[:-3]
    note = f"{stamp} [main] WARN  arc.orchestrator - ==== {left_out} earlier bytes left out: see logs/attempts/ ====\n"
    return note.encode() + tail


def params_file_name(uri: str) -> str:
    """Nextflow picks the params format by extension (json, yml, yaml)."""
    suffix = Path(uri.rstrip("/")).suffix.lower()
    return "params" + (suffix if suffix in (".json", ".yml", ".yaml") else ".yaml")


def exit_status(returncode: int) -> int:
    """A shell-style exit status: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def write_exit_marker(state_dir: Path, exit_code: int) -> None:
    """``orchestrator.exit`` (JSON), written atomically: how the orchestrator ended, for the local executor."""
    state_dir.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"exit_code": exit_code, "finished_at": datetime.now(UTC).isoformat()})
    tmp = state_dir / f".{EXIT_MARKER}.tmp-{os.getpid()}"
    tmp.write_text(data + "\n", encoding="utf-8")
    os.replace(tmp, state_dir / EXIT_MARKER)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------------
# the supervisor


class Supervisor:
    """One orchestrator run: launch dir, Nextflow process, live logs, reports."""

    def __init__(self, config: OrchestratorConfig, reporter: StatusClient, *, environ: Mapping[str, str]) -> None:
        self.config = config
        self.reporter = reporter
        self.environ = dict(environ)
        self._proc: asyncio.subprocess.Process | None = None
        self._stop_reason: str | None = None
        self._stop_signal = int(signal.SIGTERM)
        self._kill_timer: asyncio.TimerHandle | None = None
        self._refused_as: str | None = None  # the run's status when the service refused 'running'

    @property
    def stopping(self) -> bool:
        return self._stop_reason is not None

    async def run(self) -> int:
        """Everything; returns the exit status to exit with."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            return await self._run()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if self._kill_timer is not None:
                self._kill_timer.cancel()
            proc = self._proc
            if proc is not None and proc.returncode is None:  # only on an unexpected error
                proc.kill()
                await proc.wait()

    # --- stopping ----------------------------------------------------------------------------

    def _on_signal(self, sig: int) -> None:
        name = signal.Signals(sig).name
        log.warning("received %s: stopping Nextflow", name)
        self.request_stop(f"the orchestrator received {name} (the run was cancelled or its VM preempted)", sig)

    def request_stop(self, reason: str, sig: int = signal.SIGTERM) -> None:
        """Forward ``sig`` to Nextflow; kill it if it is still there after the grace period."""
        if self._stop_reason is None:
            self._stop_reason = reason
            self._stop_signal = int(sig)
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return  # not started yet (checked before the launch) or already gone
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            return
        if self._kill_timer is None:
            self._kill_timer = asyncio.get_running_loop().call_later(self.config.stop_grace_seconds, self._kill)

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            log.error("Nextflow did not stop within %.0f s of the signal: killing it", self.config.stop_grace_seconds)
            proc.kill()

    # --- the run -----------------------------------------------------------------------------

    async def _run(self) -> int:
        config = self.config
        nextflow = resolve_executable(config.nextflow_bin)
        if nextflow is None:
            return await self._fail_before_launch(cannot_run_nextflow_message(config.nextflow_bin), EXIT_CANNOT_EXECUTE)
        try:
            storage = await asyncio.to_thread(open_storage, config.run_root)
        except Exception as exc:  # e.g. no Google credentials on the VM
            return await self._fail_before_launch(f"Cannot open the run's storage at {config.run_root}: {exc}", 1)
        launch = await asyncio.to_thread(self._make_launch_dir)
        try:
            try:
                config_file, params_file = await self._download_inputs(storage, launch)
            except (ArcError, OSError) as exc:
                return await self._fail_before_launch(f"Cannot read the run's inputs: {exc}", 1)
            if self.stopping:
                log.warning("stopped before Nextflow started (%s): not reporting an outcome", self._stop_reason)
                return 128 + signal.SIGTERM
            return await self._supervise(nextflow, storage, launch, config_file, params_file)
        finally:
            await asyncio.to_thread(shutil.rmtree, launch, True)

    def _make_launch_dir(self) -> Path:
        """A new, empty launch dir for every attempt (as on a fresh VM): no history, no stale trace."""
        parent = self.config.launch_parent
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", self.config.run_id)[:40]
        return Path(tempfile.mkdtemp(prefix=f"arc-{prefix}-launch-", dir=parent))

    async def _download_inputs(self, storage: Storage, launch: Path) -> tuple[Path, Path]:
        config = self.config
        config_bytes = await read_input(config.config_uri, run_root=config.run_root, storage=storage)
        params_bytes = await read_input(config.params_uri, run_root=config.run_root, storage=storage)
        # Not "nextflow.config": Nextflow would read that file from the launch dir a second time.
        config_file = launch / "arc-run.config"
        params_file = launch / params_file_name(config.params_uri)
        await asyncio.to_thread(config_file.write_bytes, config_bytes)
        await asyncio.to_thread(params_file.write_bytes, params_bytes)
        return config_file, params_file

    async def _supervise(
        self, nextflow: str, storage: Storage, launch: Path, config_file: Path, params_file: Path
    ) -> int:
        config = self.config
        earlier = await self._keep_earlier_attempts(storage) if config.attempt > 0 else {}
        args = nextflow_command(nextflow, config, launch, config_file, params_file, run_name_for(config.run_id))
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=launch,
                env=nextflow_environment(self.environ, config),
                stdin=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            return await self._fail_before_launch(
                cannot_run_nextflow_message(config.nextflow_bin, exc), EXIT_CANNOT_EXECUTE
            )
        self._proc = proc
        started_at, started = _now(), time.monotonic()
        log.info("Nextflow started (pid %d) in %s: %s", proc.pid, launch, shlex.join(args))
        if self.stopping:  # a signal arrived while the process was being created
            self.request_stop(self._stop_reason or "stopped")
        running = asyncio.create_task(self._report_running(started_at))
        mirror = LogMirror(storage, [(launch / name, key) for name, key in FINAL_LOGS], prefixes=earlier)
        stop_mirror = asyncio.Event()
        live_keys = {key for _name, key in LIVE_LOGS}
        mirror_task = asyncio.create_task(mirror.run(config.log_sync_seconds, stop_mirror, keys=live_keys))
        stderr_tail = bytearray()
        stderr_task = asyncio.create_task(_tee(proc.stderr, stderr_tail))

        code = exit_status(await proc.wait())
        duration = time.monotonic() - started
        log.info("Nextflow exited with status %d after %.1f s", code, duration)
        stop_mirror.set()
        await mirror_task
        try:  # a task that inherited Nextflow's stderr could keep the pipe open
            await asyncio.wait_for(stderr_task, 5)
        except TimeoutError:
            stderr_task.cancel()

        log_text = await asyncio.to_thread(_read_text, launch / ".nextflow.log")
        trace_text = await asyncio.to_thread(_read_text, launch / "trace.txt")
        outcome = parse_outcome(log_text, code, stderr_tail.decode("utf-8", "replace"))
        metrics: dict[str, Any] = {**trace_counts(trace_text), "duration_seconds": round(duration, 3)}

        await mirror.upload_final()  # what the live copy already sent unchanged is not sent again

        report_seconds = REPORT_SECONDS_WHEN_STOPPING if self.stopping else None
        try:
            running_ok = await asyncio.wait_for(running, report_seconds)
        except TimeoutError:
            running_ok = False
        session_id = outcome.session_id or config.expected_session_id
        if code == 0:
            if not running_ok and self._refused_as is None:  # completed is only allowed from running
                await self._report("running", at=started_at, nextflow_session_id=session_id)
            await self._report(
                "completed",
                at=_now(),
                exit_code=0,
                metrics=metrics,
                nextflow_session_id=session_id,
                max_seconds=report_seconds,
            )
            return 0
        if self.stopping:
            # Stopped from outside: a cancel (the platform records it) or a spot preemption (Cloud Batch
            # retries the job, and the reconciler settles the run if the retries run out). Reporting
            # `failed` here would pre-empt both, so the outcome is left to the platform.
            log.warning("Nextflow stopped (%s) with status %d: not reporting an outcome", self._stop_reason, code)
            # Nextflow ends an aborted session with status 1; the orchestrator itself was stopped by a
            # signal, and says so the shell's way (128 + N) to its executor.
            return 128 + self._stop_signal if code != 0 else code
        kind = FAILURE_KINDS.get(outcome.kind, "unknown")
        message = outcome.error_message or f"Nextflow exited with status {code}"
        await self._report(
            "failed",
            at=_now(),
            exit_code=code,
            error_message=message,
            error_task=outcome.error_task,
            metrics={**metrics, "failure_kind": kind},
            nextflow_session_id=session_id,
            max_seconds=report_seconds,
        )
        return code

    async def _keep_earlier_attempts(self, storage: Storage) -> dict[str, bytes]:
        """Before a retried attempt (the VM of the last one was preempted) writes anything: keep the last
        attempt's logs, trace, timeline and report under ``logs/attempts/N/``, and start the live
        ``logs/nextflow.log`` with everything logged so far plus a boundary line, so it only grows.

        Best effort: a file that cannot be read or archived is logged and skipped, never stops the attempt.
        The archived ``nextflow.log`` holds only that attempt's own lines (from its boundary line on), and
        the prefix carried into the live log is capped at ``MAX_CARRIED_LOG_BYTES`` (its tail is kept)."""
        attempt = self.config.attempt  # attempts so far: this one is attempt + 1
        earlier: dict[str, bytes] = {}
        for name, key in FINAL_LOGS:
            try:
                data = await storage.read_bytes(key)
            except NotFound:
                continue
            except Exception as exc:
                log.warning("could not read %s of the earlier attempt: %s", key, exc)
                continue
            if name == ".nextflow.log":
                earlier[key] = carried_log_prefix(data)
                data = own_attempt_lines(data)
            archive = layout.attempt_log_in_run(attempt, key.rsplit("/", 1)[-1])
            try:
                if await storage.stat(archive) is None:  # a repeated start of this attempt keeps the first copy
                    await storage.write_bytes(archive, data)
            except Exception as exc:
                log.warning("could not keep %s of the earlier attempt as %s: %s", key, archive, exc)
        boundary = attempt_boundary_line(attempt + 1, self.config.resume_session or "")
        earlier[LIVE_LOGS[0][1]] = earlier.get(LIVE_LOGS[0][1], b"") + boundary.encode()
        log.info("attempt %d: the earlier attempt's logs are kept under logs/attempts/%d/", attempt + 1, attempt)
        return earlier

    # --- reports -----------------------------------------------------------------------------

    async def _report_running(self, started_at: datetime) -> bool:
        """Report ``running``; stop Nextflow when the platform says the run is already over."""
        try:
            await self.reporter.report(
                self.config.run_id, "running", at=started_at, nextflow_session_id=self.config.expected_session_id
            )
            log.info("reported running")
            return True
        except FailedPrecondition as exc:
            status = current_status(exc)
            self._refused_as = status or "unknown"
            log.warning("the Runs service refused 'running': %s", exc)
            if status in TERMINAL:  # e.g. cancelled before we got here: its results would go nowhere
                log.warning("the run is already %s: stopping Nextflow", status)
                self.request_stop(f"the run is already {status}")
            return False
        except Exception as exc:
            log.error("could not report 'running': %s", exc)
            return False

    async def _report(self, status: str, **fields: Any) -> bool:
        """A best-effort report: a refusal or an outage is logged, never changes the exit status."""
        try:
            await self.reporter.report(self.config.run_id, status, **fields)
        except FailedPrecondition as exc:
            # Final, not retried: e.g. the platform already moved the run to cancelled.
            log.warning("the Runs service refused %r (not retried): %s", status, exc)
            return False
        except Exception as exc:
            log.error("could not report %r: %s", status, exc)
            return False
        log.info("reported %s", status)
        return True

    async def _fail_before_launch(self, message: str, exit_code: int, *, kind: str = "launch") -> int:
        log.error("%s", message)
        await self._report(
            "failed",
            at=_now(),
            exit_code=exit_code,
            error_message=message,
            metrics={"failure_kind": kind},
            max_seconds=REPORT_SECONDS_WHEN_STOPPING if self.stopping else None,
        )
        return exit_code


async def _tee(reader: asyncio.StreamReader | None, tail: bytearray) -> None:
    """Pass Nextflow's stderr through to ours, keeping its tail for the verdict."""
    if reader is None:
        return
    sink = sys.stderr.buffer
    while chunk := await reader.read(65536):
        sink.write(chunk)
        sink.flush()
        tail.extend(chunk)
        if len(tail) > STDERR_TAIL_BYTES:
            del tail[:-STDERR_TAIL_BYTES]


# --------------------------------------------------------------------------------------------------
# entry point


async def orchestrate(config: OrchestratorConfig, environ: Mapping[str, str]) -> int:
    """Supervise the run; always leaves the exit marker when a state dir is configured."""
    code = 1
    reporter = StatusClient(config.status_address, config.token)
    try:
        code = await Supervisor(config, reporter, environ=environ).run()
    except Exception as exc:
        log.exception("the orchestrator failed")
        try:
            await reporter.report(
                config.run_id,
                "failed",
                at=_now(),
                exit_code=code,
                error_message=f"The orchestrator failed: {exc}",
                metrics={"failure_kind": "orchestrator"},
                max_seconds=30,
            )
        except Exception as report_exc:
            log.error("could not report the failure: %s", report_exc)
    finally:
        await reporter.close()
        if config.state_dir is not None:
            await asyncio.to_thread(write_exit_marker, config.state_dir, code)
    return code


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = OrchestratorConfig.from_env(os.environ)
    except ConfigError as exc:
        log.error("%s", exc)
        state_dir = os.environ.get(STATE_DIR_VARIABLE, "").strip()
        if state_dir:
            write_exit_marker(Path(state_dir), EXIT_BAD_ENVIRONMENT)
        return EXIT_BAD_ENVIRONMENT
    return asyncio.run(orchestrate(config, os.environ))
