"""Wiring of the Benchling service (placeholder until its servicer lands: every RPC answers UNIMPLEMENTED)."""

from __future__ import annotations

from arc.benchling.v1 import benchling_service_pb2, benchling_service_pb2_grpc
from arc_core.grpc_server import ServiceRegistration
from arc_core.settings import Settings

SERVICE_NAME = benchling_service_pb2.DESCRIPTOR.services_by_name["BenchlingService"].full_name


async def build(settings: Settings, *, database_url: str | None) -> tuple[ServiceRegistration, object]:
    servicer = benchling_service_pb2_grpc.BenchlingServiceServicer()
    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: benchling_service_pb2_grpc.add_BenchlingServiceServicer_to_server(
            servicer, server
        ),
    )
    return registration, servicer
