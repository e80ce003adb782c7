"""Wiring of the Pipelines service: load the catalog once, serve it."""

from __future__ import annotations

import asyncio

from arc.pipelines.v1 import pipelines_service_pb2_grpc
from arc_core.grpc_server import ServiceRegistration
from arc_core.settings import Settings
from services.pipelines.catalog import Catalog
from services.pipelines.config_render import BatchConfigSettings
from services.pipelines.service import PipelinesService
from services.pipelines.servicer import SERVICE_NAME, PipelinesServicer


async def build(settings: Settings, *, database_url: str | None) -> tuple[ServiceRegistration, PipelinesService]:
    catalog = await asyncio.to_thread(Catalog.load, settings.catalog_dir)
    batch = BatchConfigSettings(
        project=settings.gcp_project if settings.executor == "batch" else "",
        location=settings.gcp_region,
        service_account=settings.tasks_service_account,
        network=settings.batch_network,
        subnetwork=settings.batch_subnetwork,
        use_private_address=settings.batch_no_external_ip,
        max_cpus=settings.task_max_cpus,
        max_memory=settings.task_max_memory,
        max_time=settings.task_max_time,
        max_disk=settings.task_max_disk,
    )  # raises ValueError at start-up for maxima that cap nothing
    service = PipelinesService(catalog, batch)
    servicer = PipelinesServicer(service)
    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: pipelines_service_pb2_grpc.add_PipelinesServiceServicer_to_server(
            servicer, server
        ),
    )
    return registration, service
