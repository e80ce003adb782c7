"""The REST + SSE gateway: every route calls a gRPC method; no business logic, no database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from arc.benchling.v1 import benchling_service_pb2, benchling_service_pb2_grpc
from arc.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from arc.pipelines.v1 import pipelines_service_pb2, pipelines_service_pb2_grpc
from arc.runs.v1 import runs_service_pb2, runs_service_pb2_grpc
from arc_core.grpc_client import open_channel
from arc_core.settings import Settings
from arc_core.version import VERSION
from gateway import errors, openapi
from gateway.body_limit import BodyLimit
from gateway.deps import Stubs, refuse_cross_site
from gateway.inputs import refuse_undeliverable
from gateway.routers import benchling, health, logs, me, pipelines, runs
from gateway.ui import install as install_ui

_SERVICES = {
    "runs": runs_service_pb2.DESCRIPTOR.services_by_name["RunsService"].full_name,
    "logs": logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name,
    "pipelines": pipelines_service_pb2.DESCRIPTOR.services_by_name["PipelinesService"].full_name,
    "benchling": benchling_service_pb2.DESCRIPTOR.services_by_name["BenchlingService"].full_name,
}


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channels: dict[str, object] = {}
        for name in _SERVICES:
            address = settings.service_address(name)  # type: ignore[arg-type]
            channels.setdefault(
                address, open_channel(address, unary_deadline_seconds=settings.gateway_rpc_timeout_seconds)
            )
        channel = {name: channels[settings.service_address(name)] for name in _SERVICES}  # type: ignore[arg-type]
        app.state.stubs = Stubs(
            runs=runs_service_pb2_grpc.RunsServiceStub(channel["runs"]),
            logs=logs_service_pb2_grpc.LogsServiceStub(channel["logs"]),
            pipelines=pipelines_service_pb2_grpc.PipelinesServiceStub(channel["pipelines"]),
            benchling=benchling_service_pb2_grpc.BenchlingServiceStub(channel["benchling"]),
        )
        app.state.health_targets = {name: (channel[name], full) for name, full in _SERVICES.items()}
        try:
            yield
        finally:
            for ch in channels.values():
                await ch.close()  # type: ignore[attr-defined]

    app = FastAPI(
        title="Arc Reactor",
        summary="Launch, follow and recover Nextflow / nf-core pipeline runs",
        version=VERSION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_cross_site), Depends(refuse_undeliverable)],
    )
    errors.install(app)
    openapi.install(app)
    app.add_middleware(BodyLimit)
    app.include_router(health.router)
    app.include_router(runs.router)
    app.include_router(logs.router)
    app.include_router(pipelines.router)
    app.include_router(benchling.router)
    app.include_router(me.router)
    install_ui(app, settings)  # the web UI (gateway/ui): pages at /, assets at /static
    return app
