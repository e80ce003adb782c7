"""A run's history (every move and action, with who and why, and its links), purge (files gone, record kept),
and work-dir retention (old work dirs deleted by one leader; a recovery can then only start from scratch)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import grpc
import pytest

from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.contracts import run_layout as layout
from arc_core.storage import Storage
from services.runs import status as st
from services.runs.leader import LeaderLoop
from services.runs.retention import WorkRetention
from services.runs.service import RunsService
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running, email_metadata, running_platform
from tests.support.runs import insert_run

from .conftest import NEXTFLOW_STANDIN

ALICE = "alice@example.com"
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{ALICE}"}
BOB_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:bob@example.com"}
ADMIN_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com"}
SAMPLESHEET = (
    "sample,fastq_1,fastq_2\n"
    f"s1,{TEST_INPUTS}/s1_R1.fastq.gz,{TEST_INPUTS}/s1_R2.fastq.gz\n"
    f"s2,{TEST_INPUTS}/s2_R1.fastq.gz,{TEST_INPUTS}/s2_R2.fastq.gz\n"
)
BODY = {
    "pipeline": "demo/hello",
    "pipeline_version": "1.0.0",
    "samplesheet_csv": SAMPLESHEET,
    "params": {"greeting": "hi"},
}


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """Tasks that take long enough for a run to be cancelled while it goes."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NXF_FAKE_TASK_SECONDS", "5")
        env.setenv("ARC_LOG_SYNC_SECONDS", "0.2")
        dsn = await make_database()
        async with running_platform(
            database_url=dsn,
            data_dir=tmp_path_factory.mktemp("arc-lifecycle"),
            nextflow_bin=NEXTFLOW_STANDIN,
            local_cancel_grace_seconds=1.0,
        ) as running:
            yield running


@pytest.fixture
def service(platform: Running) -> RunsService:
    return platform.service("runs")


def retention(platform: Running, days: int = 30) -> WorkRetention:
    """A retention pass on the platform's store and storage, called directly (the platform's own waits an hour)."""
    service: RunsService = platform.service("runs")
    dsn = platform.platform.settings.database_url

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn)

    return WorkRetention(store=service.store, storage=service.storage, connect=connect, days=days, interval=0.1)


async def stored_run(service: RunsService, status: str, *, owner: str = ALICE, **overrides: Any) -> str:
    """A run straight in the store with a file in each of its folders."""
    run_id = await insert_run(service.store, status=status, owner=owner, **overrides)
    for group in ("inputs", "work", "results", "logs"):
        await service.storage.write_bytes(layout.join(layout.group_prefix(run_id, group), "f.txt"), group.encode())
    await service.storage.write_bytes(layout.inputs_key(run_id, layout.SAMPLESHEET), SAMPLESHEET.encode())
    return run_id


async def age(service: RunsService, run_id: str, days: float) -> None:
    """Make a terminal run's end ``days`` old."""
    await service.store.pool.execute(
        """
        UPDATE runs SET completed_at = completed_at - make_interval(days => $2::int),
            failed_at = failed_at - make_interval(days => $2::int),
            cancelled_at = cancelled_at - make_interval(days => $2::int)
        WHERE run_id = $1
        """,
        run_id,
        int(days),
    )


async def history(platform: Running, run_id: str, headers: dict[str, str] = ALICE_HTTP) -> dict[str, Any]:
    response = await platform.http.get(f"/api/runs/{run_id}/history", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def reason_of(response: Any) -> str | None:
    return next((d.get("reason") for d in response.json()["error"]["details"] if "reason" in d), None)


async def has(storage: Storage, run_id: str, group: str) -> bool:
    return await storage.has_objects(layout.group_prefix(run_id, group))


# --- history -------------------------------------------------------------------------------------


async def test_history_after_create_then_cancel_shows_each_move_with_its_actor(platform: Running) -> None:
    created = await platform.http.post("/api/runs", json=BODY, headers=ALICE_HTTP)
    assert created.status_code == 201, created.text
    run_id = created.json()["run_id"]
    cancelled = await platform.http.delete(f"/api/runs/{run_id}", headers=ADMIN_HTTP)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text

    body = await history(platform, run_id)
    assert body["run_id"] == run_id and body["links"] == []
    entries = body["entries"]
    assert all(e["kind"] == "status" for e in entries)
    first, last = entries[0], entries[-1]
    assert (first["from_status"], first["to_status"], first["actor"]) == (None, "pending", ALICE)
    assert first["reason"] == f"created by {ALICE}"
    assert entries[1]["from_status"] == "pending" and entries[1]["to_status"] == "submitted"
    assert last["to_status"] == "cancelled" and last["actor"] == "admin@example.com"
    assert last["reason"] == "cancelled by admin@example.com"
    times = [datetime.fromisoformat(e["time"]) for e in entries]
    assert times == sorted(times)
    # Each move starts where the one before ended.
    assert all(a["to_status"] == b["from_status"] for a, b in zip(entries, entries[1:], strict=False))

    # The RPC says the same, with the enum.
    rpc = await platform.runs.GetRunHistory(
        runs_service_pb2.GetRunHistoryRequest(run_id=run_id), metadata=email_metadata(ALICE)
    )
    assert len(rpc.entries) == len(entries)
    assert rpc.entries[0].from_status == run_pb2.Run.STATUS_UNSPECIFIED
    assert rpc.entries[-1].to_status == run_pb2.Run.CANCELLED


async def test_history_links_a_recovery_both_ways_and_only_runs_the_caller_may_see(
    platform: Running, service: RunsService
) -> None:
    parent = await stored_run(service, st.FAILED)
    recovery = await insert_run(service.store, status=st.PENDING, parent_run_id=parent, is_recovery=True)
    relaunch = await insert_run(service.store, status=st.PENDING, relaunched_from=parent)
    # An admin recovered it too: that run is the admin's, which Alice cannot see.
    admins = await insert_run(service.store, owner="admin@example.com", parent_run_id=parent, is_recovery=True)

    links = (await history(platform, parent))["links"]
    assert [(link["relation"], link["run_id"]) for link in links] == [
        ("recovered_by", recovery),
        ("relaunched_by", relaunch),
    ]
    assert all(link["created_at"] for link in links)
    assert (await history(platform, recovery))["links"][0] | {"created_at": None} == {
        "relation": "recovers",
        "run_id": parent,
        "created_at": None,
    }
    assert [link["relation"] for link in (await history(platform, relaunch))["links"]] == ["relaunches"]
    # The admin sees every run, the admin's recovery among them; its own link back to Alice's run too.
    seen = {(link["relation"], link["run_id"]) for link in (await history(platform, parent, ADMIN_HTTP))["links"]}
    assert ("recovered_by", admins) in seen
    assert (await history(platform, admins, ADMIN_HTTP))["links"][0]["run_id"] == parent


# --- purge ---------------------------------------------------------------------------------------


async def test_purge_is_refused_while_running_then_deletes_the_files_and_keeps_the_record(
    platform: Running, service: RunsService
) -> None:
    run_id = await stored_run(service, st.RUNNING)
    refused = await platform.http.post(f"/api/runs/{run_id}/purge", headers=ALICE_HTTP)
    assert refused.status_code == 409 and reason_of(refused) == "RUN_ACTIVE", refused.text
    assert await has(service.storage, run_id, "results")  # nothing was touched

    await service.store.move(run_id, st.CANCELLED, reason="test", actor="test")
    purged = await platform.http.post(f"/api/runs/{run_id}/purge", headers=ALICE_HTTP)
    assert purged.status_code == 200, purged.text
    run = purged.json()
    assert run["purged_at"] and run["work_deleted_at"] and run["status"] == "cancelled"
    assert not await service.storage.has_objects(layout.run_root(run_id))

    # The record stays; its files are gone for good (410), logs included.
    assert (await platform.http.get(f"/api/runs/{run_id}", headers=ALICE_HTTP)).json()["purged_at"] == run["purged_at"]
    for path in ("files", "files/results/f.txt", "logs", "tasks", "logs/download"):
        gone = await platform.http.get(f"/api/runs/{run_id}/{path}", headers=ALICE_HTTP)
        assert gone.status_code == 410 and reason_of(gone) == "RUN_PURGED", (path, gone.text)
        assert gone.json()["error"]["code"] == "FAILED_PRECONDITION"
    recovered = await platform.http.post(f"/api/runs/{run_id}/recover", json={}, headers=ALICE_HTTP)
    assert recovered.status_code == 410 and reason_of(recovered) == "RUN_PURGED", recovered.text

    entries = (await history(platform, run_id))["entries"]
    assert entries[-1] == entries[-1] | {
        "kind": "purged",
        "actor": ALICE,
        "reason": f"files purged by {ALICE}",
        "from_status": None,
        "to_status": "cancelled",
    }
    # Hidden from the list unless asked for.
    listed = (await platform.http.get("/api/runs", params={"page_size": 100}, headers=ALICE_HTTP)).json()
    assert run_id not in {r["run_id"] for r in listed["runs"]}
    listed = await platform.http.get(
        "/api/runs", params={"page_size": 100, "include_purged": "true"}, headers=ALICE_HTTP
    )
    assert run_id in {r["run_id"] for r in listed.json()["runs"]}


async def test_a_second_purge_answers_the_run_and_finishes_an_interrupted_one(
    platform: Running, service: RunsService
) -> None:
    run_id = await stored_run(service, st.COMPLETED)
    first = (await platform.http.post(f"/api/runs/{run_id}/purge", headers=ALICE_HTTP)).json()
    # As if the first purge had been cut short: objects left behind a purged row.
    await service.storage.write_bytes(layout.join(layout.results_prefix(run_id), "left.txt"), b"x")
    again = await platform.http.post(f"/api/runs/{run_id}/purge", headers=ALICE_HTTP)
    assert again.status_code == 200 and again.json()["purged_at"] == first["purged_at"]
    assert not await service.storage.has_objects(layout.run_root(run_id))
    kinds = [e["kind"] for e in (await history(platform, run_id))["entries"]]
    assert kinds.count("purged") == 1


async def test_purge_by_a_stranger_is_404_and_by_an_admin_works(platform: Running, service: RunsService) -> None:
    run_id = await stored_run(service, st.FAILED)
    for method, path in (("POST", "purge"), ("GET", "history")):
        response = await platform.http.request(method, f"/api/runs/{run_id}/{path}", headers=BOB_HTTP)
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND", (path, response.text)
    assert await has(service.storage, run_id, "results")
    purged = await platform.http.post(f"/api/runs/{run_id}/purge", headers=ADMIN_HTTP)
    assert purged.status_code == 200 and purged.json()["purged_at"], purged.text
    assert (await history(platform, run_id))["entries"][-1]["actor"] == "admin@example.com"
    # A purged run is still its owner's and only theirs: the stranger's 404 does not change.
    assert (await platform.http.post(f"/api/runs/{run_id}/purge", headers=BOB_HTTP)).status_code == 404
    assert (await platform.http.get(f"/api/runs/{run_id}/files", headers=BOB_HTTP)).status_code == 404


async def test_purging_a_run_whose_work_dir_a_recovery_resumes_in(platform: Running, service: RunsService) -> None:
    parent = await stored_run(service, st.FAILED)
    work = service.storage.uri(layout.work_prefix(parent))
    child = await insert_run(
        service.store, status=st.RUNNING, parent_run_id=parent, is_recovery=True, reused_work_dir=work
    )
    refused = await platform.http.post(f"/api/runs/{parent}/purge", headers=ALICE_HTTP)
    assert refused.status_code == 409 and reason_of(refused) == "WORK_DIR_IN_USE", refused.text
    assert child in refused.json()["error"]["message"]
    assert await has(service.storage, parent, "work")

    await service.store.move(child, st.FAILED, reason="test", actor="test")
    assert (await platform.http.post(f"/api/runs/{parent}/purge", headers=ALICE_HTTP)).status_code == 200
    # The recovery lost the work dir it resumed in: it says so, and cannot reuse it either.
    child_run = (await platform.http.get(f"/api/runs/{child}", headers=ALICE_HTTP)).json()
    assert child_run["work_deleted_at"] and not child_run["purged_at"]
    assert (await history(platform, child))["entries"][-1]["kind"] == "work_deleted"
    await service.storage.write_bytes(layout.inputs_key(child, layout.SAMPLESHEET), SAMPLESHEET.encode())
    again = await platform.http.post(f"/api/runs/{child}/recover", json={"reuse_work_dir": True}, headers=ALICE_HTTP)
    assert again.status_code == 409 and reason_of(again) == "WORK_DIR_DELETED", again.text
    assert f"purge of {parent}" in again.json()["error"]["message"]


# --- retention -----------------------------------------------------------------------------------


async def test_a_retention_pass_deletes_an_old_work_dir_and_a_recovery_must_start_afresh(
    platform: Running, service: RunsService
) -> None:
    created = await platform.http.post("/api/runs", json=BODY, headers=ALICE_HTTP)
    assert created.status_code == 201, created.text
    run_id = created.json()["run_id"]
    await platform.http.delete(f"/api/runs/{run_id}", headers=ALICE_HTTP)
    for group in ("work", "results", "logs"):
        await service.storage.write_bytes(layout.join(layout.group_prefix(run_id, group), "f.txt"), b"x")
    recent = await stored_run(service, st.COMPLETED)  # ended just now: kept
    await age(service, run_id, 31)

    deletions = await retention(platform).run_pass()
    assert [d.run_ids for d in deletions] == [(run_id,)]
    assert deletions[0].objects >= 1
    assert not await has(service.storage, run_id, "work")
    assert await has(service.storage, run_id, "results") and await has(service.storage, run_id, "logs")
    assert await has(service.storage, recent, "work")
    run = (await platform.http.get(f"/api/runs/{run_id}", headers=ALICE_HTTP)).json()
    assert run["work_deleted_at"] and not run["purged_at"]
    last = (await history(platform, run_id))["entries"][-1]
    assert last == last | {
        "kind": "work_deleted",
        "actor": "retention",
        "reason": "work dir deleted: terminal for more than 30 days (ARC_WORK_RETENTION_DAYS)",
        "to_status": "cancelled",
    }
    assert await retention(platform).run_pass() == []  # a second pass has nothing to do

    refused = await platform.http.post(f"/api/runs/{run_id}/recover", json={"reuse_work_dir": True}, headers=ALICE_HTTP)
    assert refused.status_code == 409 and reason_of(refused) == "WORK_DIR_DELETED", refused.text
    message = refused.json()["error"]["message"]
    assert "ARC_WORK_RETENTION_DAYS" in message and "reuse_work_dir=false" in message
    assert run["work_deleted_at"][:10] in message  # when
    fresh = await platform.http.post(f"/api/runs/{run_id}/recover", json={"reuse_work_dir": False}, headers=ALICE_HTTP)
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["parent_run_id"] == run_id and fresh.json()["reused_work_dir"] is None
    await platform.http.delete(f"/api/runs/{fresh.json()['run_id']}", headers=ALICE_HTTP)


async def test_a_work_dir_stays_while_a_recovery_resuming_in_it_needs_it(
    platform: Running, service: RunsService
) -> None:
    parent = await stored_run(service, st.FAILED)
    work = service.storage.uri(layout.work_prefix(parent))
    child = await insert_run(
        service.store, status=st.RUNNING, parent_run_id=parent, is_recovery=True, reused_work_dir=work
    )
    await age(service, parent, 40)
    pass_ = retention(platform)
    assert parent not in {r for d in await pass_.run_pass() for r in d.run_ids}  # the child runs in it
    await service.store.move(child, st.FAILED, reason="test", actor="test")
    assert parent not in {r for d in await pass_.run_pass() for r in d.run_ids}  # the child ended just now
    assert await has(service.storage, parent, "work")

    await age(service, child, 31)
    deletions = [d for d in await pass_.run_pass() if d.owner_run_id == parent]
    assert [set(d.run_ids) for d in deletions] == [{parent, child}]
    assert not await has(service.storage, parent, "work")
    for run_id in (parent, child):
        assert (await service.store.get_run(run_id)).work_deleted_at is not None


async def test_retention_zero_never_deletes(platform: Running, service: RunsService) -> None:
    run_id = await stored_run(service, st.COMPLETED)
    await age(service, run_id, 3650)
    never = retention(platform, days=0)
    assert await never.run_pass() == []
    await never.start()  # no loop, no lock connection
    assert never._leader._task is None
    await never.stop()
    assert await has(service.storage, run_id, "work")
    assert (await service.store.get_run(run_id)).work_deleted_at is None


async def test_a_pass_walks_every_batch(platform: Running, service: RunsService) -> None:
    run_ids = [await stored_run(service, st.COMPLETED) for _ in range(5)]
    for run_id in run_ids:
        await age(service, run_id, 60)
    small = retention(platform)
    small.batch_size = 2
    deleted = {r for d in await small.run_pass() for r in d.run_ids}
    assert set(run_ids) <= deleted
    assert not any([await has(service.storage, run_id, "work") for run_id in run_ids])


# --- one leader ----------------------------------------------------------------------------------


async def test_two_leaders_never_work_at_once(platform: Running) -> None:
    dsn = platform.platform.settings.database_url
    key = 0x54455354  # a key of this test's own
    working: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    passes: list[str] = []

    def make(name: str) -> LeaderLoop:
        async def work() -> None:
            working.append(name)
            if len(working) > 1:
                overlaps.append(tuple(working))
            passes.append(name)
            await asyncio.sleep(0.05)
            working.remove(name)

        async def connect() -> asyncpg.Connection:
            return await asyncpg.connect(dsn)

        return LeaderLoop(name=name, key=key, connect=connect, interval=0.02, work=work)

    first, second = make("first"), make("second")
    await first.start()
    await asyncio.sleep(0.3)
    await second.start()
    await asyncio.sleep(0.3)
    assert set(passes) == {"first"} and first.leading and not second.leading
    assert overlaps == []
    # The leader's lock connection is cut (not stopped): the other takes over, and the first starts no pass
    # after that (one already under way when the cut comes may still finish: passes are idempotent).
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted", key
        )
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
        async with asyncio.timeout(10):
            while not second.leading:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # the pass under way, if any, ends
        passes.clear()
        await asyncio.sleep(0.3)
        assert set(passes) == {"second"} and not first.leading
    finally:
        await conn.close()
        await first.stop()
        await second.stop()


async def test_stranger_gets_404_on_history_over_grpc(platform: Running, service: RunsService) -> None:
    run_id = await stored_run(service, st.COMPLETED)
    bob = email_metadata("bob@example.com")
    for call in (
        platform.runs.GetRunHistory(runs_service_pb2.GetRunHistoryRequest(run_id=run_id), metadata=bob),
        platform.runs.PurgeRun(runs_service_pb2.PurgeRunRequest(run_id=run_id), metadata=bob),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # And a missing run is the same 404.
    missing = await platform.http.get("/api/runs/run-00000000/history", headers=ALICE_HTTP)
    assert missing.status_code == 404
