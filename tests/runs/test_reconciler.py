"""The reconciler settles runs whose job ended without a report, using the real Batch client and a
local server speaking the Batch protocol; one leader across replicas."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import grpc
import pytest
from google.cloud import batch_v1

from arc_core.db import create_pool
from arc_core.storage import LocalStorage
from services.runs import status as st
from services.runs.executors.base import JobSpec
from services.runs.launcher import RunLauncher
from services.runs.reconciler import Reconciler
from services.runs.schema import migrate
from services.runs.store import RunStore
from tests.support.fake_batch import batch_executor_for, running_fake_batch
from tests.support.runs import insert_run

State = batch_v1.JobStatus.State


@pytest.fixture(scope="module")
async def dsn(make_database) -> str:
    url = await make_database()
    await migrate(url)
    return url


@pytest.fixture(scope="module")
async def store(dsn: str):
    pool = await create_pool(dsn)
    yield RunStore(pool)
    await pool.close()


@pytest.fixture
async def fake_batch():
    async with running_fake_batch() as batch:
        yield batch


async def make_run(store: RunStore, status: str, job_name: str | None, run_id: str | None = None) -> str:
    return await insert_run(store, status=status, job_name=job_name, run_id=run_id, pipeline="demo/hello")


async def submit_job(executor, run_id: str) -> str:
    """A real CreateJob through the client, as the launcher would have sent it."""
    spec = JobSpec(
        run_id=run_id,
        pipeline="demo/hello",
        pipeline_version="1.0.0",
        user_email="a@example.com",
        run_root="gs://b/runs/" + run_id,
        config_uri="gs://b/c",
        params_uri="gs://b/p",
        work_dir="gs://b/w",
        session_id=str(uuid.uuid4()),
        resume_session_id=None,
        cache_uri="gs://b/w/.c",
        status_address="runs:50051",
        token="t",
    )
    return await executor.submit(spec)


@pytest.fixture
def reconciler(store: RunStore, dsn: str):
    def make(executor, *, grace: float = 0.0) -> Reconciler:
        async def connect() -> asyncpg.Connection:
            return await asyncpg.connect(dsn)

        return Reconciler(store=store, executor=executor, connect=connect, interval=0.1, grace=grace)

    return make


@pytest.mark.parametrize(
    ("run_status", "job_state", "expected", "history"),
    [
        (st.SUBMITTED, State.QUEUED, st.SUBMITTED, []),
        (st.SUBMITTED, State.SCHEDULED, st.SUBMITTED, []),
        (st.SUBMITTED, State.RUNNING, st.RUNNING, [st.RUNNING]),
        (st.RUNNING, State.RUNNING, st.RUNNING, []),
        (st.RUNNING, State.SUCCEEDED, st.COMPLETED, [st.COMPLETED]),
        (st.SUBMITTED, State.SUCCEEDED, st.COMPLETED, [st.RUNNING, st.COMPLETED]),
        (st.RUNNING, State.FAILED, st.FAILED, [st.FAILED]),
        (st.SUBMITTED, State.FAILED, st.FAILED, [st.FAILED]),
    ],
)
async def test_job_state_settles_the_run(
    store, fake_batch, reconciler, run_status, job_state, expected, history
) -> None:
    executor = batch_executor_for(fake_batch)
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    job_name = await submit_job(executor, run_id)
    fake_batch.set_state(job_name, job_state, exit_code=3 if job_state == State.FAILED else None)
    await make_run(store, run_status, job_name, run_id)
    before = len(await store.history(run_id))
    await reconciler(executor).reconcile_once()
    row = await store.get_run(run_id)
    assert row.status == expected
    added = (await store.history(run_id))[before:]
    assert [h.to_status for h in added] == history
    assert all(h.reason.startswith("reconciler:") and h.actor == "reconciler" for h in added)
    if expected == st.FAILED:
        assert row.exit_code == 3 and "without reporting" in row.error_message


async def test_deleted_job_means_cancelled(store, fake_batch, reconciler) -> None:
    executor = batch_executor_for(fake_batch)
    run_id = await make_run(store, st.RUNNING, "projects/test-project/locations/us-central1/jobs/nf-gone")
    await reconciler(executor).reconcile_once()
    row = await store.get_run(run_id)
    assert row.status == st.CANCELLED
    assert "is gone" in (await store.history(run_id))[-1].reason


async def test_grace_leaves_time_for_the_orchestrators_own_report(store, fake_batch, reconciler) -> None:
    executor = batch_executor_for(fake_batch)
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    job_name = await submit_job(executor, run_id)
    fake_batch.set_state(job_name, State.FAILED, exit_code=1)
    await make_run(store, st.RUNNING, job_name, run_id)
    assert await reconciler(executor, grace=60).reconcile_once() == []
    assert (await store.get_run(run_id)).status == st.RUNNING


async def test_pending_run_that_never_got_submitted_fails(store, fake_batch, reconciler) -> None:
    run_id = await make_run(store, st.PENDING, None)
    await store.pool.execute("UPDATE runs SET updated_at = now() - interval '1 hour' WHERE run_id = $1", run_id)
    await reconciler(batch_executor_for(fake_batch)).reconcile_once()
    row = await store.get_run(run_id)
    assert row.status == st.FAILED and "never submitted" in (await store.history(run_id))[-1].reason


async def test_backend_down_changes_nothing(store, fake_batch, reconciler) -> None:
    import grpc

    executor = batch_executor_for(fake_batch)
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    job_name = await submit_job(executor, run_id)
    fake_batch.set_state(job_name, State.SUCCEEDED)
    await make_run(store, st.RUNNING, job_name, run_id)
    fake_batch.fail_next(grpc.StatusCode.UNAVAILABLE, "down", times=100, method="GetJob")
    fixes = await reconciler(executor).reconcile_once()
    assert run_id not in {f.run_id for f in fixes}
    assert (await store.get_run(run_id)).status == st.RUNNING


async def test_one_leader_across_replicas(store, fake_batch, reconciler) -> None:
    executor = batch_executor_for(fake_batch)
    first, second = reconciler(executor), reconciler(executor)
    calls: list[str] = []
    for name, r in (("first", first), ("second", second)):
        original = r.reconcile_once

        async def counted(name=name, original=original):
            calls.append(name)
            return await original()

        r.reconcile_once = counted  # type: ignore[method-assign]
    await first.start()
    await asyncio.sleep(0.3)
    await second.start()
    await asyncio.sleep(0.5)
    assert set(calls) == {"first"}
    await first.stop()  # the leader goes away: its lock is released with its connection
    await asyncio.sleep(0.8)
    assert "second" in calls
    await second.stop()


async def test_a_cancel_during_submit_answers_the_cancelled_run_when_delete_fails(store, fake_batch) -> None:
    """The launcher: the user cancels while CreateJob is in flight, and DeleteJob then fails."""
    executor = batch_executor_for(fake_batch)
    run_id = await make_run(store, st.PENDING, None)
    real_submit = executor.submit

    async def submit_then_cancelled(spec: JobSpec) -> str:
        name = await real_submit(spec)
        await store.move(run_id, st.CANCELLED, reason="cancelled by the user", actor="alice@example.com")
        fake_batch.fail_next(grpc.StatusCode.PERMISSION_DENIED, "no batch.jobs.delete", method="DeleteJob")
        return name

    executor.submit = submit_then_cancelled  # type: ignore[method-assign]
    launcher = RunLauncher(
        store=store, storage=LocalStorage("/tmp/unused"), executor=executor, status_address="x:1", nextflow_bin="nf"
    )
    row = await store.get_run(run_id)
    answered = await launcher.submit(row, "token", resume_session_id=None)
    assert answered.status == st.CANCELLED  # the caller's answer is the run's true state, not the error
    assert len(fake_batch.calls("DeleteJob")) == 1  # the delete was tried
