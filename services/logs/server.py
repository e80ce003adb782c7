"""Wiring of the Logs service.

The contract is declared in full; until the Logs issue lands every RPC answers UNIMPLEMENTED
(the generated base servicer's behaviour), never made-up data.
"""

from __future__ import annotations

from arc.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from arc_core.grpc_server import ServiceRegistration
from arc_core.settings import Settings

SERVICE_NAME = logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name


async def build(settings: Settings, *, database_url: str | None) -> tuple[ServiceRegistration, object]:
    servicer = logs_service_pb2_grpc.LogsServiceServicer()
    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: logs_service_pb2_grpc.add_LogsServiceServicer_to_server(servicer, server),
    )
    return registration, servicer
