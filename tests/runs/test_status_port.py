"""ReportRunStatus has a port of its own (issue 9): only that RPC and health, no identity from headers.

Batch VMs (where user-written pipeline code runs) reach the status port through the internal load balancer;
nothing else of any service may answer there. That orchestrators really report on it is shown end to end by
tests/runs/test_execution.py::test_create_runs_to_completion_with_live_status (a run through the Nextflow
stand-in completes) and by tests/orchestrator (they are given ``platform.status_address``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from arc.runs.v1 import run_pb2, runs_service_pb2, runs_service_pb2_grpc
from arc_core.grpc_server import HealthReporter, SideServer, build_side_server
from arc_core.identity import RUN_TOKEN_HEADER, USER_EMAIL_HEADER
from services.runs import status as st
from services.runs.service import RunsService
from services.runs.servicer import SERVICE_NAME
from tests.support.platform import Running, email_metadata, running_platform
from tests.support.runs import PATH_TO, insert_run

ADMIN = email_metadata("admin@example.com")
LOGS_SERVICE = "arc.logs.v1.LogsService"


async def run_at(service: RunsService, status: str) -> str:
    run_id = await insert_run(service.store)
    for target in PATH_TO[status]:
        await service.store.move(run_id, target, reason="test", actor="test")
    return run_id


def running(run_id: str) -> runs_service_pb2.ReportRunStatusRequest:
    return runs_service_pb2.ReportRunStatusRequest(run_id=run_id, status=run_pb2.Run.RUNNING)


async def code_of(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code()


def test_the_status_port_is_its_own(platform: Running) -> None:
    assert platform.platform.side_ports["status"] not in (0, platform.platform.grpc_port)


async def test_report_with_the_runs_token_on_the_status_port(platform: Running, runs_service: RunsService) -> None:
    run_id = await run_at(runs_service, st.SUBMITTED)
    token = await runs_service.issue_orchestrator_token(run_id)
    run = await platform.status.ReportRunStatus(running(run_id), metadata=((RUN_TOKEN_HEADER, token),))
    assert run.status == run_pb2.Run.RUNNING and run.HasField("started_at")
    assert (await runs_service.store.get_run(run_id)).status == st.RUNNING


async def test_orchestrators_are_told_the_status_port(platform: Running, runs_service: RunsService) -> None:
    """Embedded mode, no ARC_STATUS_ADDRESS: loopback and the port actually bound (0 picked one)."""
    launcher = runs_service.launcher
    assert launcher.status_address == platform.status_address != platform.grpc_address
    run_id = await run_at(runs_service, st.PENDING)
    spec = launcher.job_spec(await runs_service.store.get_run(run_id), token="t", resume_session_id=None)
    assert spec.environment()["ARC_STATUS_ADDRESS"] == platform.status_address


async def test_a_dev_identity_header_reaches_no_other_method_on_the_status_port(
    platform: Running, runs_service: RunsService
) -> None:
    run_id = await run_at(runs_service, st.RUNNING)
    stub = platform.status
    calls = {
        "GetRun": stub.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=ADMIN),
        "ListRuns": stub.ListRuns(runs_service_pb2.ListRunsRequest(), metadata=ADMIN),
        "CancelRun": stub.CancelRun(runs_service_pb2.CancelRunRequest(run_id=run_id), metadata=ADMIN),
        "CreateRun": stub.CreateRun(runs_service_pb2.CreateRunRequest(pipeline="nf-core/scrnaseq"), metadata=ADMIN),
    }
    for name, call in calls.items():
        assert await code_of(call) == grpc.StatusCode.UNIMPLEMENTED, name
    watch = stub.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ADMIN)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in watch:
            pass
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert (await runs_service.store.get_run(run_id)).status == st.RUNNING, "nothing was cancelled"

    # The same calls on the main port are served: only the port makes the difference.
    run = await platform.runs.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=ADMIN)
    assert run.run_id == run_id


async def test_no_other_service_is_on_the_status_port(platform: Running) -> None:
    health = health_pb2_grpc.HealthStub(platform.status_channel)
    other = health.Check(health_pb2.HealthCheckRequest(service=LOGS_SERVICE))
    assert await code_of(other) == grpc.StatusCode.NOT_FOUND
    reflection = reflection_pb2_grpc.ServerReflectionStub(platform.status_channel)
    listing = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in listing:
            pass
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # Logs answers on the main port (the embedded stack serves it there).
    main = health_pb2_grpc.HealthStub(platform.channel)
    answer = await main.Check(health_pb2.HealthCheckRequest(service=LOGS_SERVICE))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_main_port_does_not_serve_report_run_status(platform: Running, runs_service: RunsService) -> None:
    run_id = await run_at(runs_service, st.SUBMITTED)
    token = await runs_service.issue_orchestrator_token(run_id)
    call = platform.runs.ReportRunStatus(running(run_id), metadata=((RUN_TOKEN_HEADER, token), *ADMIN))
    assert await code_of(call) == grpc.StatusCode.UNIMPLEMENTED
    assert (await runs_service.store.get_run(run_id)).status == st.SUBMITTED


async def test_a_wrong_token_is_unauthenticated_whatever_the_headers(
    platform: Running, runs_service: RunsService
) -> None:
    run_a = await run_at(runs_service, st.SUBMITTED)
    run_b = await run_at(runs_service, st.SUBMITTED)
    token_a = await runs_service.issue_orchestrator_token(run_a)
    await runs_service.issue_orchestrator_token(run_b)
    attempts = [
        ((RUN_TOKEN_HEADER, token_a),),  # another run's token
        ((RUN_TOKEN_HEADER, "not-a-token"),),
        (),  # no token at all
        ADMIN,  # an admin's dev header, no token
        ((RUN_TOKEN_HEADER, "not-a-token"), (USER_EMAIL_HEADER, "accounts.google.com:admin@example.com")),
    ]
    for metadata in attempts:
        call = platform.status.ReportRunStatus(running(run_b), metadata=metadata)
        assert await code_of(call) == grpc.StatusCode.UNAUTHENTICATED, metadata
    assert (await runs_service.store.get_run(run_b)).status == st.SUBMITTED


async def test_the_status_port_takes_only_small_requests(platform: Running, runs_service: RunsService) -> None:
    run_id = await run_at(runs_service, st.RUNNING)
    token = await runs_service.issue_orchestrator_token(run_id)
    huge = runs_service_pb2.ReportRunStatusRequest(
        run_id=run_id, status=run_pb2.Run.FAILED, exit_code=1, error_message="E" * 2_000_000
    )
    call = platform.status.ReportRunStatus(huge, metadata=((RUN_TOKEN_HEADER, token),))
    assert await code_of(call) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await runs_service.store.get_run(run_id)).status == st.RUNNING


async def test_health_on_the_status_port_is_serving(platform: Running) -> None:
    health = health_pb2_grpc.HealthStub(platform.status_channel)
    for name in (SERVICE_NAME, ""):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, name


# --- the side port's health mirrors the main port's readiness ---------------------------------------------


@pytest.fixture
async def two_ports() -> AsyncIterator[tuple[HealthReporter, grpc.aio.Channel, grpc.aio.Channel]]:
    """A main server and a side server sharing one HealthReporter, as the runtime builds them."""
    reporter = HealthReporter()
    main = grpc.aio.server()
    side = build_side_server(SideServer(name="status", port=0, add_to_server=lambda s: None, self_authenticated=()))
    main_port = main.add_insecure_port("127.0.0.1:0")
    side_port = side.add_insecure_port("127.0.0.1:0")
    reporter.add_to_server(main, [SERVICE_NAME, LOGS_SERVICE])
    reporter.add_to_side_server(side, [SERVICE_NAME])
    await main.start()
    await side.start()
    main_channel = grpc.aio.insecure_channel(f"127.0.0.1:{main_port}")
    side_channel = grpc.aio.insecure_channel(f"127.0.0.1:{side_port}")
    try:
        yield reporter, main_channel, side_channel
    finally:
        await main_channel.close()
        await side_channel.close()
        await main.stop(None)
        await side.stop(None)


async def status_of(channel: grpc.aio.Channel, name: str) -> int:
    answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=name))
    return answer.status


async def test_side_health_follows_the_services_readiness(two_ports) -> None:  # type: ignore[no-untyped-def]
    reporter, main, side = two_ports
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    await reporter.set(SERVICE_NAME, False)  # e.g. the database is down
    await reporter.set(LOGS_SERVICE, True)
    assert await status_of(main, SERVICE_NAME) == not_serving
    assert await status_of(side, SERVICE_NAME) == not_serving
    assert await status_of(side, "") == not_serving
    other = health_pb2_grpc.HealthStub(side).Check(health_pb2.HealthCheckRequest(service=LOGS_SERVICE))
    assert await code_of(other) == grpc.StatusCode.NOT_FOUND
    await reporter.set(SERVICE_NAME, True)
    assert await status_of(side, SERVICE_NAME) == serving and await status_of(side, "") == serving
    assert await status_of(main, SERVICE_NAME) == serving


# --- ARC_STATUS_ADDRESS wins; the status port stops with the platform --------------------------------------


async def test_status_address_setting_overrides_and_the_port_stops_with_the_platform(
    make_database, tmp_path: Path
) -> None:
    dsn = await make_database()
    async with running_platform(
        database_url=dsn, data_dir=tmp_path, targets=["runs", "pipelines", "logs"], status_address="10.0.0.5:50052"
    ) as stack:
        assert stack.service("runs").launcher.status_address == "10.0.0.5:50052"
        answer = await health_pb2_grpc.HealthStub(stack.status_channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        address = stack.status_address
    async with grpc.aio.insecure_channel(address) as channel:
        stub = runs_service_pb2_grpc.RunsServiceStub(channel)
        call = stub.ReportRunStatus(running("run-gone"), metadata=((RUN_TOKEN_HEADER, "t"),))
        assert await code_of(call) == grpc.StatusCode.UNAVAILABLE


async def test_a_status_port_already_taken_is_refused(make_database, tmp_path: Path, platform: Running) -> None:
    # gRPC's default SO_REUSEPORT would let a second Runs process share the port, and reports go astray.
    taken = platform.platform.side_ports["status"]
    with pytest.raises(OSError, match=f"cannot listen on .*:{taken}"):
        async with running_platform(
            database_url=await make_database(),
            data_dir=tmp_path,
            targets=["runs", "pipelines", "logs"],
            status_port=taken,
        ) as _:
            pass
