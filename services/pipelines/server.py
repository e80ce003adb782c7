"""Wiring of the Pipelines service (placeholder until its servicer lands: every RPC answers UNIMPLEMENTED)."""

from __future__ import annotations

from arc.pipelines.v1 import pipelines_service_pb2, pipelines_service_pb2_grpc
from arc_core.grpc_server import ServiceRegistration
from arc_core.settings import Settings

SERVICE_NAME = pipelines_service_pb2.DESCRIPTOR.services_by_name["PipelinesService"].full_name


async def build(settings: Settings, *, database_url: str | None) -> tuple[ServiceRegistration, object]:
    servicer = pipelines_service_pb2_grpc.PipelinesServiceServicer()
    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: pipelines_service_pb2_grpc.add_PipelinesServiceServicer_to_server(servicer, server),
    )
    return registration, servicer
