"""Every allowed and forbidden status move, against the real database."""

from __future__ import annotations

import asyncio
import itertools

import grpc
import pytest

from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.errors import FailedPrecondition, NotFound
from services.runs import status as st
from services.runs.service import RunsService
from tests.runs.conftest import insert_run
from tests.support.runs import PATH_TO


async def run_at(service: RunsService, status: str) -> str:
    run_id = await insert_run(service)
    for target in PATH_TO[status]:
        await service.store.move(run_id, target, reason="test", actor="test")
    return run_id


@pytest.mark.parametrize(("source", "target"), list(itertools.product(st.STATUSES, st.STATUSES)))
async def test_every_move(runs_service: RunsService, source: str, target: str) -> None:
    run_id = await run_at(runs_service, source)
    before = await runs_service.store.history(run_id)
    if source == target:
        result = await runs_service.store.move(run_id, target, reason="repeat", actor="test")
        assert not result.changed and result.run.status == source
        assert await runs_service.store.history(run_id) == before  # a repeat writes nothing
    elif target in st.ALLOWED_MOVES[source]:
        result = await runs_service.store.move(run_id, target, reason="test", actor="test")
        assert result.changed and result.run.status == target
        assert getattr(result.run, st.TIMESTAMP_COLUMN[target]) is not None
        assert result.run.updated_at >= before[-1].created_at
        history = await runs_service.store.history(run_id)
        assert [h.to_status for h in history][-1] == target
        assert history[-1].from_status == source and history[-1].seq == len(history)
    else:
        with pytest.raises(FailedPrecondition, match=f"is {source}; it cannot become {target}"):
            await runs_service.store.move(run_id, target, reason="test", actor="test")
        row = await runs_service.store.get_run(run_id)
        assert row.status == source
        assert await runs_service.store.history(run_id) == before


async def test_move_of_missing_run(runs_service: RunsService) -> None:
    with pytest.raises(NotFound):
        await runs_service.store.move("run-00000000", st.SUBMITTED, reason="test", actor="test")


async def test_fifty_concurrent_conflicting_moves(runs_service: RunsService) -> None:
    """From running, 50 racing moves to completed/failed/cancelled: exactly one wins."""
    run_id = await run_at(runs_service, st.RUNNING)
    targets = [(st.COMPLETED, st.FAILED, st.CANCELLED)[i % 3] for i in range(50)]

    async def attempt(target: str) -> tuple[str, object]:
        try:
            return target, await runs_service.store.move(run_id, target, reason=f"race {target}", actor="test")
        except FailedPrecondition as exc:
            return target, exc

    results = await asyncio.gather(*(attempt(t) for t in targets))
    winners = [(t, r) for t, r in results if not isinstance(r, Exception) and r.changed]
    assert len(winners) == 1
    winner_target = winners[0][0]
    for target, result in results:
        if target == winner_target:
            # the same status again is a no-op, never an error
            assert not isinstance(result, Exception) and result.run.status == winner_target
        else:
            assert isinstance(result, FailedPrecondition)
    row = await runs_service.store.get_run(run_id)
    history = await runs_service.store.history(run_id)
    assert row.status == winner_target == history[-1].to_status
    assert [h.to_status for h in history] == [st.PENDING, st.SUBMITTED, st.RUNNING, winner_target]
    assert [h.seq for h in history] == [1, 2, 3, 4]


async def test_history_snapshot_matches_row(runs_service: RunsService) -> None:
    run_id = await run_at(runs_service, st.COMPLETED)
    row = await runs_service.store.get_run(run_id)
    snapshot = (await runs_service.store.history(run_id))[-1].run
    assert snapshot.status == row.status == st.COMPLETED
    assert snapshot.completed_at is not None
    assert snapshot == row  # the snapshot maps back to the very Run the store returns


async def test_report_status_needs_the_runs_own_token(platform, runs_service: RunsService) -> None:
    run_a = await run_at(runs_service, st.SUBMITTED)
    run_b = await run_at(runs_service, st.SUBMITTED)
    token_a = await runs_service.issue_orchestrator_token(run_a)
    await runs_service.issue_orchestrator_token(run_b)
    running = runs_service_pb2.ReportRunStatusRequest(run_id=run_b, status=run_pb2.Run.RUNNING)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.status.ReportRunStatus(running, metadata=(("x-arc-run-token", token_a),))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.status.ReportRunStatus(running)  # no token at all
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await runs_service.store.get_run(run_b)).status == st.SUBMITTED

    ok = runs_service_pb2.ReportRunStatusRequest(run_id=run_a, status=run_pb2.Run.RUNNING)
    run = await platform.status.ReportRunStatus(ok, metadata=(("x-arc-run-token", token_a),))
    assert run.status == run_pb2.Run.RUNNING and run.HasField("started_at")


async def test_report_is_idempotent_and_final_after_terminal(platform, runs_service: RunsService) -> None:
    run_id = await run_at(runs_service, st.RUNNING)
    token = await runs_service.issue_orchestrator_token(run_id)
    auth = (("x-arc-run-token", token),)
    failed = runs_service_pb2.ReportRunStatusRequest(
        run_id=run_id, status=run_pb2.Run.FAILED, exit_code=1, error_message="boom", error_task="FASTQC (s1)"
    )
    first = await platform.status.ReportRunStatus(failed, metadata=auth)
    again = await platform.status.ReportRunStatus(failed, metadata=auth)  # a lost reply, retried
    assert first.status == again.status == run_pb2.Run.FAILED
    assert again.exit_code == 1 and again.error_task == "FASTQC (s1)"
    assert len(await runs_service.store.history(run_id)) == 4

    completed = runs_service_pb2.ReportRunStatusRequest(run_id=run_id, status=run_pb2.Run.COMPLETED, exit_code=0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.status.ReportRunStatus(completed, metadata=auth)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    row = await runs_service.store.get_run(run_id)
    assert row.status == st.FAILED and row.exit_code == 1


async def test_user_stats_follow_runs(runs_service: RunsService) -> None:
    owner = "stats@example.com"
    run_id = await insert_run(runs_service, owner=owner, sample_count=3)
    for target in PATH_TO[st.COMPLETED]:
        await runs_service.store.move(run_id, target, reason="test", actor="test")
    await insert_run(runs_service, owner=owner, sample_count=5)
    user = await runs_service.store.get_user(owner)
    assert user is not None
    assert (user.total_runs, user.successful_runs, user.total_samples_processed) == (2, 1, 3)


async def test_a_reported_error_text_is_bounded(platform, runs_service: RunsService) -> None:
    # The error text comes from what the run wrote (Nextflow's log): a hostile run could send megabytes.
    run_id = await run_at(runs_service, st.RUNNING)
    token = await runs_service.issue_orchestrator_token(run_id)
    huge = runs_service_pb2.ReportRunStatusRequest(
        run_id=run_id, status=run_pb2.Run.FAILED, exit_code=1, error_message="E" * 1_000_000, error_task="T" * 20_000
    )
    run = await platform.status.ReportRunStatus(huge, metadata=(("x-arc-run-token", token),))
    assert len(run.error_message) <= 16_384 and run.error_message.startswith("EEEE")
    assert run.error_message.endswith("[truncated]") and len(run.error_task) <= 1_024
