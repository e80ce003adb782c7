"""Every service answers grpc.health.v1 per service and server reflection; errors carry rich details."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from arc.runs.v1 import runs_service_pb2
from arc_core.grpc_errors import decode_status
from tests.support.platform import running_platform

SERVICES = [
    "arc.runs.v1.RunsService",
    "arc.logs.v1.LogsService",
    "arc.pipelines.v1.PipelinesService",
    "arc.benchling.v1.BenchlingService",
]


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory):
    dsn = await make_database()
    async with running_platform(database_url=dsn, data_dir=tmp_path_factory.mktemp("arc")) as running:
        yield running


@pytest.mark.parametrize("service", [*SERVICES, ""])
async def test_health_per_service(platform, service: str) -> None:
    response = await health_pb2_grpc.HealthStub(platform.channel).Check(health_pb2.HealthCheckRequest(service=service))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_of_unknown_service_is_not_found(platform) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await health_pb2_grpc.HealthStub(platform.channel).Check(health_pb2.HealthCheckRequest(service="nope.Service"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_every_service(platform) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(platform.channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for response in stub.ServerReflectionInfo(requests()):
        names = {s.name for s in response.list_services_response.service}
        break
    assert set(SERVICES) <= names and "grpc.health.v1.Health" in names


async def test_ready_route_reports_each_service(platform) -> None:
    response = await platform.http.get("/api/health/ready")
    assert response.status_code == 200
    assert set(response.json()["services"]) == {"runs", "logs", "pipelines", "benchling"}
    assert (await platform.http.get("/api/health")).json() == {"status": "ok"}


async def test_bad_input_carries_field_violations(platform) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(page_size=-5))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = decode_status(err.value.trailing_metadata())
    bad = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "page_size"
