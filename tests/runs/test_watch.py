"""WatchRun over real gRPC and /events over real HTTP: first state, live changes, end, resume."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from arc.runs.v1 import run_pb2, runs_service_pb2
from services.runs import status as st
from tests.runs.conftest import insert_run
from tests.support.platform import email_metadata

ALICE = email_metadata("alice@example.com")


async def move(service, run_id: str, *targets: str) -> None:
    for target in targets:
        await service.store.move(run_id, target, reason="test", actor="test")


async def collect(call, n: int | None = None, timeout: float = 10) -> list[runs_service_pb2.WatchRunResponse]:
    events = []

    async def _read() -> None:
        while (event := await call.read()) is not grpc.aio.EOF:
            events.append(event)
            if n is not None and len(events) >= n:
                return

    await asyncio.wait_for(_read(), timeout)
    return events


async def test_current_state_then_changes_then_end(platform, runs_service) -> None:
    run_id = await insert_run(runs_service)
    call = platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ALICE)
    first = await asyncio.wait_for(call.read(), 5)
    assert first.status.status == run_pb2.Run.PENDING and first.sequence == 1 and not first.final

    await move(runs_service, run_id, st.SUBMITTED, st.RUNNING, st.COMPLETED)
    rest = await collect(call)
    assert [e.status.status for e in rest] == [run_pb2.Run.SUBMITTED, run_pb2.Run.RUNNING, run_pb2.Run.COMPLETED]
    assert [e.sequence for e in rest] == [2, 3, 4]
    assert rest[-1].final and rest[-1].status.HasField("completed_at")
    assert not any(e.final for e in rest[:-1])


async def test_late_joiner_gets_current_state_and_terminal_run_ends(platform, runs_service) -> None:
    run_id = await insert_run(runs_service)
    await move(runs_service, run_id, st.SUBMITTED, st.RUNNING)
    events = await collect(platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ALICE), 1)
    assert events[0].sequence == 3 and events[0].status.status == run_pb2.Run.RUNNING

    await move(runs_service, run_id, st.FAILED)
    events = await collect(platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ALICE))
    assert len(events) == 1 and events[0].final and events[0].status.status == run_pb2.Run.FAILED


async def test_reconnect_with_last_sequence_neither_loses_nor_repeats(platform, runs_service) -> None:
    run_id = await insert_run(runs_service)
    call = platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ALICE)
    first = await asyncio.wait_for(call.read(), 5)
    call.cancel()  # the client drops
    await move(runs_service, run_id, st.SUBMITTED, st.RUNNING)  # changes while disconnected
    resumed = platform.runs.WatchRun(
        runs_service_pb2.WatchRunRequest(run_id=run_id, after_sequence=first.sequence), metadata=ALICE
    )
    got = await collect(resumed, 2)
    assert [e.sequence for e in got] == [2, 3]
    await move(runs_service, run_id, st.CANCELLED)
    final = await collect(resumed)
    assert [e.sequence for e in final] == [4] and final[0].final

    # Reconnecting after the final event: nothing more will come, the stream just ends.
    after_end = platform.runs.WatchRun(
        runs_service_pb2.WatchRunRequest(run_id=run_id, after_sequence=4), metadata=ALICE
    )
    assert await collect(after_end) == []


async def test_many_watchers_share_one_listener(platform, runs_service) -> None:
    run_id = await insert_run(runs_service)
    calls = [platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ALICE) for _ in range(50)]
    await asyncio.gather(*(asyncio.wait_for(c.read(), 10) for c in calls))
    assert runs_service.hub.watcher_count >= 50
    await move(runs_service, run_id, st.CANCELLED)
    results = await asyncio.gather(*(collect(c) for c in calls))
    assert all([e.sequence for e in events] == [2] for events in results)
    await asyncio.sleep(0.1)
    assert runs_service.hub.watcher_count == 0


async def test_stranger_cannot_watch(platform, runs_service) -> None:
    run_id = await insert_run(runs_service)
    call = platform.runs.WatchRun(
        runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=email_metadata("mallory@example.com")
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call.read()
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def parse_sse(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.lstrip(" ")
        if fields:
            events.append(fields)
    return events


async def test_sse_with_ids_resume_and_final_event(platform, runs_service) -> None:
    run_id = await insert_run(runs_service)
    await move(runs_service, run_id, st.SUBMITTED)
    headers = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}

    async def finish_later() -> None:
        await asyncio.sleep(0.3)
        await move(runs_service, run_id, st.RUNNING, st.COMPLETED)

    task = asyncio.create_task(finish_later())
    response = await platform.http.get(f"/api/runs/{run_id}/events", headers=headers)
    await task
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert [(e["event"], e.get("id")) for e in events] == [
        ("status", "2"),
        ("status", "3"),
        ("status", "4"),
        ("done", None),
    ]
    assert json.loads(events[2]["data"])["status"] == "completed"
    assert json.loads(events[-1]["data"])["last_sequence"] == 4

    resumed = await platform.http.get(f"/api/runs/{run_id}/events", headers={**headers, "Last-Event-ID": "3"})
    assert [(e["event"], e.get("id")) for e in parse_sse(resumed.text)] == [("status", "4"), ("done", None)]


async def test_ndjson_when_asked(platform, runs_service) -> None:
    run_id = await insert_run(runs_service)
    await move(runs_service, run_id, st.CANCELLED)
    response = await platform.http.get(
        f"/api/runs/{run_id}/events",
        headers={"Accept": "application/x-ndjson", "X-Goog-Authenticated-User-Email": "alice@example.com"},
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert [line["event"] for line in lines] == ["status", "done"]
    assert lines[0]["id"] == "2" and lines[0]["data"]["status"] == "cancelled"


async def test_events_of_unknown_run_is_404(platform) -> None:
    response = await platform.http.get("/api/runs/run-0badf00d/events")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
