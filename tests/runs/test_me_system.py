"""Who am I (``GET /api/me``, ``PATCH /api/me/preferences``) and the system (``GET /api/system``), over REST
and gRPC on the embedded stack, plus the Nextflow version probe against the stand-in and broken binaries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import stat
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2

from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.contracts.limits import MAX_JSON_DEPTH
from arc_core.contracts.run_status import STATUSES
from arc_core.grpc_errors import decode_status
from arc_core.protos import from_struct, to_struct
from arc_core.settings import Settings
from arc_core.version import VERSION
from services.runs import status as st
from services.runs.executors.base import JobSpec
from services.runs.executors.local import LocalExecutor
from services.runs.server import system_figures
from services.runs.system_info import MAX_PREFERENCES_BYTES, parse_nextflow_version, probe_nextflow_version
from tests.runs.conftest import NEXTFLOW_STANDIN, insert_run
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running, email_metadata

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin@example.com"  # ARC_ADMIN_EMAILS of tests.support.platform
ZEROS = dict.fromkeys(STATUSES, 0)
SAMPLESHEET = (
    "sample,fastq_1,fastq_2\n"
    f"s1,{TEST_INPUTS}/s1_R1.fastq.gz,{TEST_INPUTS}/s1_R2.fastq.gz\n"
    f"s2,{TEST_INPUTS}/s2_R1.fastq.gz,{TEST_INPUTS}/s2_R2.fastq.gz\n"
)
# What Nextflow v24.04.4 prints (modules/nextflow/src/main/groovy/nextflow/cli/Launcher.groovy: SPLASH for
# `-version`, getVersion() for `-v`); tests/fakes/nextflow prints the same.
REAL_BANNER = (
    "\n      N E X T F L O W\n      version 24.04.4 build 5917\n      created 10-07-2024 11:57 UTC (13:57 CEST)\n"
    "      cite doi:10.1038/nbt.3820\n      http://nextflow.io\n\n"
)


def http_user(email: str) -> dict[str, str]:
    return {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{email}"}


def violations(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    details = response.json()["error"]["details"]
    return [v["field"] for d in details for v in d.get("field_violations", [])]


def grpc_violations(err: grpc.aio.AioRpcError) -> list[str]:
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = decode_status(err.trailing_metadata())
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    return [v.field for v in bad.field_violations]


def sized(n: int) -> dict[str, str]:
    """A JSON object of exactly ``n`` bytes as compact JSON."""
    value = {"k": "x" * (n - len('{"k":""}'))}
    assert len(json.dumps(value, separators=(",", ":")).encode()) == n
    return value


async def wait_terminal(platform: Running, run_id: str, email: str) -> run_pb2.Run:
    call = platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=email_metadata(email))
    async with asyncio.timeout(60):
        while (event := await call.read()) is not grpc.aio.EOF:
            if event.final:
                return event.status
    raise AssertionError("the run's stream ended without a final event")


async def platform_counts(platform: Running) -> dict[str, int]:
    rows = await platform.service("runs").store.pool.fetch("SELECT status, count(*) AS n FROM runs GROUP BY status")
    return {**ZEROS, **{r["status"]: r["n"] for r in rows}}


# --- /api/me -----------------------------------------------------------------------------------------


async def test_me_for_a_fresh_user(platform: Running) -> None:
    response = await platform.http.get("/api/me", headers=http_user("fresh@example.com"))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["created_at"]
    assert {k: v for k, v in me.items() if k != "created_at"} == {
        "email": "fresh@example.com",
        "display_name": "fresh",
        "is_admin": False,
        "total_runs": 0,
        "successful_runs": 0,
        "total_samples_processed": 0,
        "runs_by_status": ZEROS,
        "preferences": {},
    }


async def test_me_after_a_completed_run(platform: Running) -> None:
    owner = "finisher@example.com"
    body = {
        "pipeline": "demo/hello",
        "pipeline_version": "1.0.0",
        "samplesheet_csv": SAMPLESHEET,
        "params": {"greeting": "hi"},
    }
    created = await platform.http.post("/api/runs", json=body, headers=http_user(owner))
    assert created.status_code == 201, created.text
    final = await wait_terminal(platform, created.json()["run_id"], owner)
    assert final.status == run_pb2.Run.COMPLETED
    # The orchestrator reports, then exits: once it has, the local queue is empty again (test_system_info).
    await platform.service("runs").launcher.executor.wait(final.batch_job_name, timeout=30)
    await insert_run(platform.service("runs"), owner=owner, status=st.FAILED)
    me = (await platform.http.get("/api/me", headers=http_user(owner))).json()
    assert (me["total_runs"], me["successful_runs"], me["total_samples_processed"]) == (2, 1, 2)
    assert me["runs_by_status"] == {**ZEROS, "completed": 1, "failed": 1}
    # Only the caller's own runs: an admin's own figures are their own too.
    admin = (await platform.http.get("/api/me", headers=http_user(ADMIN))).json()
    assert admin["is_admin"] is True and admin["email"] == ADMIN and admin["runs_by_status"] == ZEROS


async def test_preferences_are_stored_replaced_and_returned(platform: Running) -> None:
    who = http_user("prefs@example.com")
    preferences = {"theme": "dark", "page_size": 50, "ratio": 0.5, "pinned": ["run-0a1b2c3d"], "x": {"y": None}}
    response = await platform.http.patch("/api/me/preferences", json=preferences, headers=who)
    assert response.status_code == 200, response.text
    assert response.json()["preferences"] == preferences and response.json()["email"] == "prefs@example.com"
    assert (await platform.http.get("/api/me", headers=who)).json()["preferences"] == preferences
    # The body replaces the object (not a merge), and an empty object clears it.
    await platform.http.patch("/api/me/preferences", json={"theme": "light"}, headers=who)
    assert (await platform.http.get("/api/me", headers=who)).json()["preferences"] == {"theme": "light"}
    cleared = await platform.http.patch("/api/me/preferences", json={}, headers=who)
    assert cleared.status_code == 200 and cleared.json()["preferences"] == {}
    # Another user's preferences are their own.
    assert (await platform.http.get("/api/me", headers=http_user("other@example.com"))).json()["preferences"] == {}


async def test_preferences_up_to_16_kb_pass_and_past_it_are_refused_located(platform: Running) -> None:
    who = http_user("big@example.com")
    limit = await platform.http.patch("/api/me/preferences", json=sized(MAX_PREFERENCES_BYTES), headers=who)
    assert limit.status_code == 200, limit.text
    over = await platform.http.patch("/api/me/preferences", json=sized(MAX_PREFERENCES_BYTES + 1), headers=who)
    assert violations(over) == ["preferences"] and "16384" in over.text
    # Nothing was stored by the refused request.
    assert (await platform.http.get("/api/me", headers=who)).json()["preferences"] == sized(MAX_PREFERENCES_BYTES)


async def test_a_preferences_body_far_past_the_limit_is_413_before_it_is_read(platform: Running) -> None:
    """The route's own body limit (gateway/body_limit.py ROUTE_LIMITS), not the 12 MB of a create."""
    huge = await platform.http.patch(
        "/api/me/preferences", json=sized(1024 * 1024), headers=http_user("huge@example.com")
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("body", [[1, 2], "dark", 5, None])
async def test_a_body_that_is_not_an_object_is_refused(platform: Running, body: object) -> None:
    response = await platform.http.patch("/api/me/preferences", json=body, headers=http_user("shape@example.com"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_ARGUMENT", response.text


async def test_preferences_nested_too_deep_are_refused(platform: Running) -> None:
    deep: dict = {}
    for _ in range(MAX_JSON_DEPTH):
        deep = {"a": deep}
    response = await platform.http.patch("/api/me/preferences", json=deep, headers=http_user("deep@example.com"))
    assert violations(response) == ["preferences"] and f"deeper than {MAX_JSON_DEPTH}" in response.text


async def test_me_and_preferences_over_grpc(platform: Running) -> None:
    meta = email_metadata(ADMIN)
    user = await platform.runs.GetCurrentUser(runs_service_pb2.GetCurrentUserRequest(), metadata=meta)
    assert user.email == ADMIN and user.is_admin and dict(user.runs_by_status).keys() == set(STATUSES)
    request = runs_service_pb2.UpdatePreferencesRequest(preferences=to_struct({"theme": "dark", "n": 3}))
    updated = await platform.runs.UpdatePreferences(request, metadata=meta)
    assert from_struct(updated.preferences) == {"theme": "dark", "n": 3} and updated.is_admin
    too_big = runs_service_pb2.UpdatePreferencesRequest(preferences=to_struct(sized(MAX_PREFERENCES_BYTES + 1)))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.UpdatePreferences(too_big, metadata=meta)
    assert grpc_violations(err.value) == ["preferences"]


# --- /api/system -------------------------------------------------------------------------------------


@contextlib.contextmanager
def counted_afresh(platform: Running) -> Iterator[None]:
    """Runs by status counted on every call (no cache, no stale answer) inside the block."""
    system = platform.service("runs").system
    saved = system.cache_seconds, system.stale_seconds
    system.cache_seconds = system.stale_seconds = 0.0
    try:
        yield
    finally:
        system.cache_seconds, system.stale_seconds = saved


async def test_system_info(platform: Running) -> None:
    runs = platform.service("runs")
    await insert_run(runs, owner="counted@example.com", status=st.RUNNING)
    await insert_run(runs, owner="counted@example.com", status=st.CANCELLED)
    with counted_afresh(platform):
        response = await platform.http.get("/api/system", headers=http_user("anyone@example.com"))
        expected = await platform_counts(platform)
    assert response.status_code == 200, response.text
    info = response.json()
    assert info == {
        "version": VERSION,
        "executor": "local",
        "storage": "local",
        "nextflow_version": "24.04.4",  # what the stand-in's `-version` printed at start-up
        "runs_by_status": expected,
        "queue": {"running": 0, "queued": 0, "capacity": 2},  # ARC_LOCAL_MAX_CONCURRENT_RUNS' default
        "work_retention_days": 30,
        "services": dict.fromkeys(["runs", "logs", "pipelines", "benchling", "gateway"], "SERVING"),
    }
    assert info["runs_by_status"]["running"] >= 1 and info["runs_by_status"]["cancelled"] >= 1


async def test_system_info_over_grpc_and_its_counts_are_cached_briefly(platform: Running) -> None:
    system = platform.service("runs").system
    meta = email_metadata("anyone@example.com")
    request = runs_service_pb2.GetSystemInfoRequest()
    with counted_afresh(platform):
        first = await platform.runs.GetSystemInfo(request, metadata=meta)
    assert (first.version, first.executor, first.storage, first.nextflow_version) == (
        VERSION,
        "local",
        "local",
        "24.04.4",
    )
    assert (first.queue.capacity, first.work_retention_days) == (2, 30)
    await insert_run(platform.service("runs"), owner="counted@example.com", status=st.PENDING)
    again = await platform.runs.GetSystemInfo(request, metadata=meta)
    assert dict(again.runs_by_status) == dict(first.runs_by_status)  # within the cache's few seconds
    # Past the cache's time the stale counts are answered at once, while one recount runs behind them.
    system.cache_seconds = 0.0
    try:
        stale = await platform.runs.GetSystemInfo(request, metadata=meta)
        assert dict(stale.runs_by_status) == dict(first.runs_by_status)
        assert system._recount is not None
        await system._recount
    finally:
        system.cache_seconds = 5.0
    fresh = await platform.runs.GetSystemInfo(request, metadata=meta)
    assert fresh.runs_by_status["pending"] == first.runs_by_status["pending"] + 1
    assert dict(fresh.runs_by_status) == await platform_counts(platform)


async def test_system_figures_on_batch() -> None:
    """On Batch the Nextflow version is ARC_NEXTFLOW_VERSION (nothing is run) and there is no local queue."""
    settings = Settings(executor="batch", storage_root="gs://arc-bucket", nextflow_version="24.10.0")

    async def no_counts() -> dict[str, int]:
        return ZEROS

    figures = system_figures(settings, type("Store", (), {"count_runs_by_status": staticmethod(no_counts)})(), object())  # type: ignore[arg-type]
    info = await figures.info()
    assert (info.executor, info.storage, info.nextflow_version) == ("batch", "gcs", "24.10.0")
    assert (info.queue.running, info.queue.queued, info.queue.capacity) == (0, 0, 0)


async def test_the_local_queue_counts_running_and_waiting_jobs(tmp_path: Path) -> None:
    executor = LocalExecutor(
        tmp_path / "executor", max_concurrent=1, command=(sys.executable, "-c", "import time; time.sleep(30)")
    )
    try:
        names = [await executor.submit(job_spec(f"run-0000000{i}")) for i in (1, 2)]
        assert executor.queue_counts() == (1, 1, 1)  # running, waiting for the one slot, slots
        for name in reversed(names):  # the waiting one first, so that it never takes the freed slot
            await executor.cancel(name)
            await executor.wait(name, timeout=10)
        assert executor.queue_counts() == (0, 0, 1)
    finally:
        await executor.close()


def job_spec(run_id: str) -> JobSpec:
    root = f"/tmp/runs/{run_id}"
    return JobSpec(
        run_id=run_id,
        pipeline="demo/hello",
        pipeline_version="1.0.0",
        user_email="alice@example.com",
        run_root=root,
        config_uri=f"{root}/inputs/nextflow.config",
        params_uri=f"{root}/inputs/params.yaml",
        work_dir=f"{root}/work",
        session_id="5a0c1b52-4a65-4a6e-9d51-3f0f5f8f1c11",
        resume_session_id=None,
        cache_uri=f"{root}/work/.nextflow-cache",
        status_address="127.0.0.1:50051",
        token="unused",
    )


def test_batch_default_nextflow_is_the_orchestrator_images() -> None:
    dockerfile = (ROOT / "orchestrator" / "Dockerfile.orchestrator").read_text()
    pinned = re.search(r"^FROM nextflow/nextflow:(\S+)", dockerfile, re.MULTILINE)
    assert pinned is not None and Settings.model_fields["nextflow_version"].default == pinned.group(1)


def test_the_version_has_one_home() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == VERSION


# --- the Nextflow version probe ----------------------------------------------------------------------


def test_parse_nextflow_version() -> None:
    assert parse_nextflow_version(REAL_BANNER) == "24.04.4"
    assert parse_nextflow_version("nextflow version 24.04.4.5917\n") == "24.04.4"  # `-v`
    assert parse_nextflow_version("      version 24.10.0-edge build 5928\n") == "24.10.0-edge"
    assert parse_nextflow_version("command not found\n") == ""


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_probe_reads_the_stand_in_and_survives_broken_binaries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert await probe_nextflow_version(NEXTFLOW_STANDIN) == "24.04.4"
    assert await probe_nextflow_version(str(tmp_path / "missing")) == ""
    assert await probe_nextflow_version(script(tmp_path, "garbage", "echo hello; exit 3\n")) == ""
    started = asyncio.get_running_loop().time()
    assert await probe_nextflow_version(script(tmp_path, "hangs", "exec sleep 30\n"), timeout=0.5) == ""
    assert asyncio.get_running_loop().time() - started < 5
    assert sum("Nextflow version" in r.getMessage() or "-version" in r.getMessage() for r in caplog.records) >= 3
