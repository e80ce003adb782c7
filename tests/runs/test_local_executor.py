"""The local executor with a stand-in orchestrator: a small Python program driven by its params file.

The stand-in records its pid, process group, session, working directory and environment in
``started.json`` in its state folder, optionally spawns a grandchild that ignores SIGTERM, waits until the
test creates a ``release`` file (or a time runs out), writes the ``orchestrator.exit`` marker like the real
orchestrator and exits with the code it was given.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from arc_core.settings import load_settings
from services.runs.executors.base import JobCreationFailed, JobNotFound, JobSpec, JobState, run_status_for
from services.runs.executors.factory import make_executor
from services.runs.executors.local import LocalExecutor

pytestmark = pytest.mark.timeout(30)

FAKE_ORCHESTRATOR = r"""
import json, os, signal, subprocess, sys, time
from pathlib import Path

behaviour = json.loads(Path(os.environ["PARAMS_GCS_PATH"]).read_text())
state = Path(os.environ["ARC_ORCHESTRATOR_STATE_DIR"])
report = {"pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0), "cwd": os.getcwd(), "env": dict(os.environ)}
if behaviour.get("grandchild"):
    code = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open(sys.argv[1], 'w')"
    code += "; time.sleep(60)"
    report["grandchild"] = subprocess.Popen([sys.executable, "-c", code, str(state / "grandchild.ready")]).pid
    while not (state / "grandchild.ready").exists():  # it ignores SIGTERM from now on
        time.sleep(0.01)
if behaviour.get("ignore_term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
(state / "started.tmp").write_text(json.dumps(report))
os.replace(state / "started.tmp", state / "started.json")
print("fake orchestrator running", flush=True)
if behaviour.get("kill_self"):
    os.kill(os.getpid(), signal.SIGKILL)
deadline = time.time() + behaviour.get("sleep", 20)
while time.time() < deadline and not (state / "release").exists():
    time.sleep(0.02)
exit_code = behaviour.get("exit_code", 0)
if behaviour.get("marker", True):
    marker = {"exit_code": exit_code, "finished_at": "2024-01-01T00:00:00Z"}
    (state / "orchestrator.exit").write_text(json.dumps(marker))
sys.exit(exit_code)
"""
FAKE_COMMAND = (sys.executable, "-c", FAKE_ORCHESTRATOR)


def make_spec(run_id: str, params_uri: str) -> JobSpec:
    return JobSpec(
        run_id=run_id,
        pipeline="nf-core/scrnaseq",
        pipeline_version="2.7.1",
        user_email="alice@example.com",
        run_root=f"/tmp/runs/{run_id}",
        config_uri=f"/tmp/runs/{run_id}/inputs/nextflow.config",
        params_uri=params_uri,
        work_dir=f"/tmp/runs/{run_id}/work",
        session_id="5a0c1b52-4a65-4a6e-9d51-3f0f5f8f1c11",
        resume_session_id=None,
        cache_uri=f"/tmp/runs/{run_id}/work/.nextflow-cache",
        status_address="127.0.0.1:50051",
        token=f"token-of-{run_id}",
    )


def alive(pid: int) -> bool:
    """A live, not zombie, process (a zombie grandchild waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2 :].split()[0] not in (b"Z", b"X")


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.state_dir = tmp_path / "executor"
        self.params_dir = tmp_path / "params"
        self.params_dir.mkdir()
        self.executors: list[LocalExecutor] = []
        self.base_env = {
            **os.environ,
            "DATABASE_URL": "postgresql://secret@db/arc",
            "ARC_BENCHLING_WAREHOUSE_URL": "postgresql://secret@warehouse/benchling",
            "ARC_INHERITED": "yes",
        }

    def executor(self, *, max_concurrent: int = 2, cancel_grace: float = 2.0, **options: Any) -> LocalExecutor:
        options.setdefault("command", FAKE_COMMAND)
        ex = LocalExecutor(
            self.state_dir,
            max_concurrent=max_concurrent,
            cancel_grace=cancel_grace,
            poll_interval=0.05,
            base_env=self.base_env,
            **options,
        )
        self.executors.append(ex)
        return ex

    def spec(self, run_id: str, **behaviour: Any) -> JobSpec:
        params = self.params_dir / f"{run_id}.json"
        params.write_text(json.dumps(behaviour))
        return make_spec(run_id, str(params))

    def folder(self, run_id: str) -> Path:
        return self.state_dir / run_id

    def release(self, run_id: str) -> None:
        (self.folder(run_id) / "release").touch()

    async def started(self, run_id: str, timeout: float = 10.0) -> dict[str, Any]:
        path = self.folder(run_id) / "started.json"
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert time.monotonic() < deadline, f"{run_id} did not start"
            await asyncio.sleep(0.02)
        return json.loads(path.read_text())

    def has_started(self, run_id: str) -> bool:
        return (self.folder(run_id) / "started.json").exists()

    def job_record(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.folder(run_id) / "job.json").read_text())

    async def cleanup(self) -> None:
        for ex in self.executors:
            await ex.close()
        for started in self.state_dir.glob("*/started.json"):
            report = json.loads(started.read_text())
            for pid in (report["pid"], report.get("grandchild")):
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(tmp_path)
    yield h
    await h.cleanup()


async def eventually_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        await asyncio.sleep(0.02)


async def test_runs_in_its_own_process_group_with_the_spec_environment(harness: Harness) -> None:
    ex = harness.executor()
    spec = harness.spec("run-00000001")
    name = await ex.submit(spec)
    assert name == "local/run-00000001"

    report = await harness.started("run-00000001")
    pid = report["pid"]
    assert report["pgid"] == pid and report["sid"] == pid  # its own session and process group
    assert report["pgid"] != os.getpgid(0)
    folder = harness.folder("run-00000001")
    assert Path(report["cwd"]) == folder.absolute()
    env = report["env"]
    for key, value in spec.environment().items():
        assert env[key] == value
    assert env["ARC_RUN_TOKEN"] == "token-of-run-00000001"
    assert env["ARC_ORCHESTRATOR_STATE_DIR"] == str(folder.absolute())
    assert env["ARC_INHERITED"] == "yes"
    assert "DATABASE_URL" not in env and "ARC_BENCHLING_WAREHOUSE_URL" not in env  # no database credentials

    assert (await ex.status(name)).state is JobState.RUNNING
    record = harness.job_record("run-00000001")
    assert stat.S_IMODE((folder / "job.json").stat().st_mode) == 0o600
    assert (record["state"], record["pid"]) == ("started", pid)
    assert isinstance(record["start_ticks"], int)
    assert "environment" not in record  # the token stays on disk only while the job waits

    harness.release("run-00000001")
    status = await ex.wait(name, timeout=10)
    assert (status.state, status.exit_code) == (JobState.SUCCEEDED, 0)
    assert run_status_for(status) == "completed"
    assert "fake orchestrator running" in (folder / "orchestrator.log").read_text()
    assert harness.job_record("run-00000001")["exit_code"] == 0


async def test_at_most_max_concurrent_run_and_the_rest_wait_in_order(harness: Harness) -> None:
    ex = harness.executor(max_concurrent=2)
    names = [await ex.submit(harness.spec(f"run-0000000{i}")) for i in (1, 2, 3)]
    await harness.started("run-00000001")
    await harness.started("run-00000002")
    await asyncio.sleep(0.3)
    assert not harness.has_started("run-00000003")
    third = await ex.status(names[2])
    assert third.state is JobState.QUEUED and "position 1" in third.message
    assert run_status_for(third) == "submitted"
    queued_record = harness.job_record("run-00000003")
    assert queued_record["state"] == "queued"
    assert queued_record["environment"]["ARC_RUN_TOKEN"] == "token-of-run-00000003"
    assert stat.S_IMODE((harness.folder("run-00000003") / "job.json").stat().st_mode) == 0o600

    harness.release("run-00000002")
    assert (await ex.wait(names[1], timeout=10)).state is JobState.SUCCEEDED
    await harness.started("run-00000003")
    assert (await ex.status(names[2])).state is JobState.RUNNING
    assert (await ex.status(names[0])).state is JobState.RUNNING

    harness.release("run-00000001")
    harness.release("run-00000003")
    for name in names:
        assert (await ex.wait(name, timeout=10)).state is JobState.SUCCEEDED


async def test_cancel_kills_the_whole_group_grandchild_too(harness: Harness) -> None:
    ex = harness.executor(cancel_grace=0.5)
    name = await ex.submit(harness.spec("run-0000000c", grandchild=True))
    report = await harness.started("run-0000000c")
    assert alive(report["grandchild"])

    began = time.monotonic()
    await ex.cancel(name)
    # The leader exits on SIGTERM; the grandchild ignores it and needs the SIGKILL after the grace.
    assert time.monotonic() - began >= 0.5
    await eventually_gone(report["grandchild"], timeout=2)
    assert not alive(report["pid"])
    status = await ex.status(name)
    assert (status.state, status.message) == (JobState.GONE, "cancelled")
    assert run_status_for(status) == "cancelled"
    await ex.cancel(name)  # again: nothing to do


async def test_cancel_sigkills_a_leader_that_ignores_sigterm(harness: Harness) -> None:
    ex = harness.executor(cancel_grace=0.3)
    name = await ex.submit(harness.spec("run-0000000d", ignore_term=True))
    report = await harness.started("run-0000000d")
    await ex.cancel(name)
    assert not alive(report["pid"])
    assert (await ex.status(name)).state is JobState.GONE


async def test_cancel_a_queued_job_drops_it(harness: Harness) -> None:
    ex = harness.executor(max_concurrent=1)
    first = await ex.submit(harness.spec("run-00000001"))
    second = await ex.submit(harness.spec("run-00000002"))
    await harness.started("run-00000001")
    await ex.cancel(second)
    assert (await ex.status(second)).state is JobState.GONE
    assert "environment" not in harness.job_record("run-00000002")

    harness.release("run-00000001")
    assert (await ex.wait(first, timeout=10)).state is JobState.SUCCEEDED
    await asyncio.sleep(0.3)
    assert not harness.has_started("run-00000002")


async def test_exit_codes(harness: Harness) -> None:
    ex = harness.executor(max_concurrent=3)
    ok = await ex.submit(harness.spec("run-0000000a", sleep=0))
    bad = await ex.submit(harness.spec("run-0000000b", sleep=0, exit_code=3))
    killed = await ex.submit(harness.spec("run-0000000c", kill_self=True))

    assert await ex.wait(ok, timeout=10) == (await ex.status(ok))
    assert (await ex.status(ok)).state is JobState.SUCCEEDED
    failed = await ex.wait(bad, timeout=10)
    assert (failed.state, failed.exit_code) == (JobState.FAILED, 3)
    assert "code 3" in failed.message and run_status_for(failed) == "failed"
    signalled = await ex.wait(killed, timeout=10)
    assert (signalled.state, signalled.exit_code) == (JobState.FAILED, 128 + signal.SIGKILL)
    assert "SIGKILL" in signalled.message


async def test_a_restarted_platform_recognises_its_jobs(harness: Harness) -> None:
    before = harness.executor(max_concurrent=2)
    running = await before.submit(harness.spec("run-00000001"))
    ended = await before.submit(harness.spec("run-00000002", exit_code=3))
    queued = await before.submit(harness.spec("run-00000003"))
    running_pid = (await harness.started("run-00000001"))["pid"]
    ended_pid = (await harness.started("run-00000002"))["pid"]
    await before.close()  # a platform restart: orchestrators keep running, nobody watches them
    assert alive(running_pid)

    harness.release("run-00000002")  # ends while nobody watches: only its exit marker tells how
    await eventually_gone(ended_pid)

    after = harness.executor(max_concurrent=2)
    assert (await after.status(running)).state is JobState.RUNNING
    outcome = await after.status(ended)
    assert (outcome.state, outcome.exit_code) == (JobState.FAILED, 3)
    await harness.started("run-00000003")  # the queued job starts in the slot the ended one freed
    harness.release("run-00000003")
    assert (await after.wait(queued, timeout=10)).state is JobState.SUCCEEDED

    await after.cancel(running)  # an orphan: signalled through its recorded process group
    await eventually_gone(running_pid)
    assert (await after.status(running)).state is JobState.GONE


async def test_an_orchestrator_that_vanished_without_a_marker_is_gone(harness: Harness) -> None:
    before = harness.executor()
    name = await before.submit(harness.spec("run-00000001", marker=False))
    pid = (await harness.started("run-00000001"))["pid"]
    await before.close()
    harness.release("run-00000001")
    await eventually_gone(pid)

    after = harness.executor()
    status = await after.status(name)
    assert status.state is JobState.GONE
    assert "without writing its exit marker" in status.message


async def test_a_recycled_pid_is_not_mistaken_for_the_job(harness: Harness) -> None:
    # Someone else's process now holds the pid the job.json recorded, with another start time.
    stranger = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(30)", start_new_session=True
    )
    try:
        folder = harness.folder("run-00000009")
        folder.mkdir(parents=True)
        record = {"job_name": "local/run-00000009", "run_id": "run-00000009", "state": "started"}
        record.update(pid=stranger.pid, start_ticks=1, queued_at=0, started_at=0)
        (folder / "job.json").write_text(json.dumps(record))

        ex = harness.executor()
        assert (await ex.status("local/run-00000009")).state is JobState.GONE
        await ex.cancel("local/run-00000009")
        assert stranger.returncode is None and alive(stranger.pid)  # not signalled
    finally:
        stranger.kill()
        await stranger.wait()


async def test_unknown_and_malformed_jobs(harness: Harness) -> None:
    ex = harness.executor()
    assert (await ex.status("local/run-ffffffff")).state is JobState.GONE
    await ex.cancel("local/run-ffffffff")  # a gone job is not an error
    for bad in ("projects/p/locations/r/jobs/nf-run-1", "local/../etc", "local/"):
        with pytest.raises(JobNotFound):
            await ex.status(bad)


async def test_a_repeated_submit_starts_nothing_new(harness: Harness) -> None:
    ex = harness.executor()
    spec = harness.spec("run-00000001")
    name = await ex.submit(spec)
    pid = (await harness.started("run-00000001"))["pid"]
    assert await ex.submit(spec) == name
    assert harness.job_record("run-00000001")["pid"] == pid


async def test_a_command_that_cannot_start_fails_the_submit(harness: Harness, tmp_path: Path) -> None:
    ex = harness.executor(command=(str(tmp_path / "no-such-orchestrator"),))
    with pytest.raises(JobCreationFailed, match="cannot start the orchestrator"):
        await ex.submit(harness.spec("run-00000001"))
    assert (await ex.status("local/run-00000001")).state is JobState.GONE
    assert not (harness.folder("run-00000001") / "job.json").exists()


async def test_factory_builds_the_local_executor(tmp_path: Path) -> None:
    settings = load_settings(
        executor="local", data_dir=tmp_path, local_max_concurrent_runs=1, local_cancel_grace_seconds=0.1
    )
    ex = make_executor(settings)
    try:
        assert isinstance(ex, LocalExecutor)
        assert (await ex.status("local/run-ffffffff")).state is JobState.GONE
        assert (tmp_path / "executor").absolute() == ex._state_dir
    finally:
        await ex.close()
