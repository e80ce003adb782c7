"""The client against the embedded stack: create, page, watch, errors; streams cut by a real proxy resume."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from arc.logs.v1 import logs_service_pb2
from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_client import ArcClient, FailedPrecondition, InvalidArgument, NotFound, ReconnectPolicy, Violation
from arc_client.sync import SyncArcClient
from tests.client.proxy import CuttingProxy
from tests.support.inputs import TEST_INPUTS
from tests.support.platform import Running
from tests.support.runs import insert_run

DATA = TEST_INPUTS
SAMPLESHEET = (
    "sample,fastq_1,fastq_2\n"
    f"s1,{DATA}/s1_R1.fastq.gz,{DATA}/s1_R2.fastq.gz\n"
    f"s2,{DATA}/s2_R1.fastq.gz,{DATA}/s2_R2.fastq.gz\n"
)
FAST = ReconnectPolicy(initial=0.05, max_wait=0.5, give_up_after=20)


def client(address: str, email: str = "alice@example.com", **options: object) -> ArcClient:
    return ArcClient(address, as_email=email, reconnect=FAST, **options)  # type: ignore[arg-type]


async def create(arc: ArcClient, **params: object) -> run_pb2.Run:
    return await arc.runs.create_run(
        pipeline="demo/hello",
        pipeline_version="1.0.0",
        samplesheet_csv=SAMPLESHEET,
        params={"greeting": "hi", **params},
        labels={"suite": "client"},
    )


async def test_create_watch_to_completion_then_cancel_is_a_precondition(platform: Running) -> None:
    async with client(platform.grpc_address) as arc:
        run = await create(arc)
        assert run.run_id.startswith("run-") and run.user_email == "alice@example.com"
        async with asyncio.timeout(60):
            events = [e async for e in arc.runs.watch_run(run.run_id)]
        statuses = [e.status.status for e in events if e.HasField("status")]
        assert statuses[-1] == run_pb2.Run.COMPLETED and events[-1].final
        sequences = [e.sequence for e in events if e.HasField("status")]
        assert sequences == sorted(set(sequences))
        assert (await arc.runs.get_run(run.run_id)).status == run_pb2.Run.COMPLETED

        tasks = [t async for t in arc.logs.list_tasks(run.run_id, page_size=1)]
        assert tasks and len({t.task_id for t in tasks}) == len(tasks)
        files = await arc.runs.list_files(run.run_id)
        assert any(f.path.endswith("samplesheet.csv") for f in files.inputs)
        sheet = await arc.runs.read_file_bytes(run.run_id, "inputs/samplesheet.csv")
        assert sheet.decode().startswith("sample,fastq_1")
        history = await arc.runs.history(run.run_id)
        assert history.run_id == run.run_id and history.entries

        with pytest.raises(FailedPrecondition) as caught:
            await arc.runs.cancel_run(run.run_id)
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION


async def test_lists_page_for_the_caller(platform: Running) -> None:
    store = platform.service("runs").store
    owner = "pager@example.com"
    inserted = [await insert_run(store, owner=owner) for _ in range(5)]
    async with client(platform.grpc_address, owner) as arc:
        first = await arc.runs.list_runs_page(page_size=2)
        assert len(first.runs) == 2 and first.next_page_token and first.total_size == 5
        listed = [run.run_id async for run in arc.runs.list_runs(page_size=2)]
        assert sorted(listed) == sorted(inserted) and len(listed) == 5  # three pages, nothing twice
        assert len([r async for r in arc.runs.list_runs(page_size=2, limit=3)]) == 3
        pipelines = [p.name async for p in arc.pipelines.list_pipelines(page_size=1)]
        assert "demo/hello" in pipelines and len(pipelines) == len(set(pipelines))
        ngs = [r async for r in arc.benchling.list_ngs_runs(page_size=1)]
        assert len(ngs) >= 2
        samples = await arc.benchling.list_samples(ngs[0].name)
        assert samples.samples


async def test_validation_errors_carry_located_violations(platform: Running) -> None:
    bad_sheet = SAMPLESHEET.replace(f"{DATA}/s2_R1.fastq.gz", "s2 R1.txt")
    async with client(platform.grpc_address) as arc:
        with pytest.raises(InvalidArgument) as caught:
            await arc.runs.create_run(
                pipeline="demo/hello",
                pipeline_version="1.0.0",
                samplesheet_csv=bad_sheet,
                params={"greeting": "hi", "times": 99},
            )
    error = caught.value
    fields = {v.field for v in error.violations}
    assert "params.times" in fields, error.violations
    assert any(f.startswith("samplesheet") for f in fields), error.violations
    assert all(isinstance(v, Violation) and v.description for v in error.violations)
    field, description = error.violations[0]  # plain (field, description) pairs too
    assert field and description and "params.times" in str(error)


async def test_a_strangers_run_is_not_found(platform: Running) -> None:
    run_id = await insert_run(platform.service("runs").store, owner="alice@example.com")
    async with client(platform.grpc_address, "mallory@example.com") as arc:
        with pytest.raises(NotFound):
            await arc.runs.get_run(run_id)
        with pytest.raises(NotFound):  # a stream's refusal is mapped too
            [e async for e in arc.runs.watch_run(run_id)]
    async with client(platform.grpc_address) as arc:
        assert (await arc.runs.get_run(run_id)).run_id == run_id


async def test_unary_calls_have_the_deadline(platform: Running, proxy: CuttingProxy) -> None:
    await proxy.stop()  # nothing listens: the call fails at once, mapped
    async with client(proxy.address, timeout=0.5) as arc:
        with pytest.raises(Exception) as caught:
            await arc.pipelines.get_pipeline("demo/hello")
    assert caught.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)  # type: ignore[attr-defined]


def _watch_requests(proxy: CuttingProxy) -> list[int]:
    return [runs_service_pb2.WatchRunRequest.FromString(b).after_sequence for b in proxy.requests_of("WatchRun")]


async def test_a_cut_watch_resumes_without_gap_or_repeat(platform: Running, proxy: CuttingProxy) -> None:
    proxy.cut_after["WatchRun"] = 1  # every event comes on a connection of its own
    async with client(platform.grpc_address) as direct, client(proxy.address) as arc:
        run = await create(direct)
        async with asyncio.timeout(60):
            events = [e async for e in arc.runs.watch_run(run.run_id)]
        assert events[-1].final and events[-1].status.status == run_pb2.Run.COMPLETED
        status_events = [e for e in events if e.HasField("status")]
        # The whole truth, read directly after the end: every status event after the first one seen.
        first = status_events[0].sequence
        truth = [e async for e in direct.runs.watch_run(run.run_id, after_sequence=first)]
    assert [(e.sequence, e.status.status) for e in status_events[1:]] == [(e.sequence, e.status.status) for e in truth]
    assert proxy.cuts >= len(status_events) - 1
    # Each reconnect asked for what came after the last status event it had been given.
    requests = _watch_requests(proxy)
    assert requests[0] == 0 and len(requests) >= len(status_events)
    assert set(requests[1:]) <= {e.sequence for e in status_events}
    assert requests == sorted(requests)


async def test_a_dropped_connection_is_reopened_with_backoff(platform: Running, proxy: CuttingProxy) -> None:
    async with client(platform.grpc_address) as direct, client(proxy.address) as arc:
        run = await create(direct)
        seen: list[runs_service_pb2.WatchRunResponse] = []
        async with asyncio.timeout(60):
            stream = arc.runs.watch_run(run.run_id)
            seen.append(await anext(stream))
            await proxy.stop()  # the connection goes away mid-run...
            await asyncio.sleep(0.5)
            await proxy.start()  # ...and comes back on the same port
            seen.extend([e async for e in stream])
        statuses = [(e.sequence, e.status.status) for e in seen if e.HasField("status")]
        truth = [e async for e in direct.runs.watch_run(run.run_id, after_sequence=statuses[0][0])]
    assert statuses[1:] == [(e.sequence, e.status.status) for e in truth]
    assert statuses[-1][1] == run_pb2.Run.COMPLETED
    assert len(proxy.requests_of("WatchRun")) >= 2


async def test_a_cut_workflow_log_resumes_at_its_offset(platform: Running, proxy: CuttingProxy) -> None:
    proxy.cut_after["StreamWorkflowLog"] = 1
    async with client(platform.grpc_address) as direct, client(proxy.address) as arc:
        run = await create(direct)
        async with asyncio.timeout(60):
            batches = [b async for b in arc.logs.follow_workflow_log(run.run_id)]
            truth, offset = [], 0
            while True:
                page = await direct.logs.workflow_log(run.run_id, offset=offset)
                truth.extend(page.entries)
                if page.complete and page.next_offset == offset:
                    break
                offset = page.next_offset
    entries = [e for b in batches for e in b.entries]
    assert [(e.offset, e.message) for e in entries] == [(e.offset, e.message) for e in truth]
    requests = [
        logs_service_pb2.StreamWorkflowLogRequest.FromString(b).offset for b in proxy.requests_of("StreamWorkflowLog")
    ]
    assert requests[0] == 0 and requests[1:] == [b.next_offset for b in batches][: len(requests) - 1]


async def test_the_sync_face(platform: Running) -> None:
    run_id = await insert_run(platform.service("runs").store, owner="sync@example.com")

    def work() -> tuple[str, list[str], list[int]]:
        with SyncArcClient(platform.grpc_address, as_email="sync@example.com") as arc:
            got = arc.runs.get_run(run_id)
            listed = [r.run_id for r in arc.runs.list_runs(page_size=1)]
            first = next(iter(arc.runs.watch_run(run_id)))  # stopped early: the stream is closed on the loop
            try:
                arc.runs.get_run("run-00000000")
            except NotFound:
                pass
            else:
                raise AssertionError("expected NotFound")
            return got.run_id, listed, [first.sequence]

    got, listed, sequences = await asyncio.to_thread(work)
    assert got == run_id and listed == [run_id] and sequences == [1]


def test_metadata_carries_the_dev_identity_and_the_id_token() -> None:
    class FakeCredentials:
        valid, token, refreshed = False, None, 0

        def refresh(self, request: object) -> None:
            self.refreshed += 1
            self.token, self.valid = f"token-{self.refreshed}", True

    from arc_client import IdTokenSource

    credentials = FakeCredentials()
    source = IdTokenSource("https://arc.example.com", credentials=credentials)
    arc = ArcClient("localhost:1", as_email="a@example.com", id_token_source=source)

    async def both() -> tuple[tuple[str, str], ...]:
        await arc.metadata()
        return await arc.metadata()

    assert asyncio.run(both()) == (
        ("x-goog-authenticated-user-email", "accounts.google.com:a@example.com"),
        ("authorization", "Bearer token-1"),
    )
    assert credentials.refreshed == 1  # cached while valid
    assert ArcClient("h:443", ca_file="/nonexistent/ca.pem").tls


def test_the_client_needs_only_the_generated_code_and_arc_core() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "arc_client"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"services", "gateway", "arc_platform", "orchestrator"}, (path, name)
