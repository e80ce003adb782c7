"""Wiring of the Logs service: storage, a Runs client, the task-log backend chosen by settings, servicer."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from arc.logs.v1 import logs_service_pb2_grpc
from arc_core.grpc_client import open_channel
from arc_core.grpc_server import ServiceRegistration
from arc_core.service_identity import service_credential
from arc_core.settings import Settings
from arc_core.storage import Storage, open_storage
from services.logs.clients import RunsClient
from services.logs.service import LogsService
from services.logs.servicer import SERVICE_NAME, LogsServicer
from services.logs.task_logs import FileTaskLogs, TaskLogBackend

__all__ = ["SERVICE_NAME", "build", "logging_client", "uses_cloud_logging"]


def uses_cloud_logging(settings: Settings) -> bool:
    """``ARC_TASK_LOGS=cloud``, or ``auto`` with a ``gs://`` storage root."""
    if settings.task_logs == "auto":
        return settings.resolved_storage_root.startswith("gs://")
    return settings.task_logs == "cloud"


def logging_client(settings: Settings) -> Any:
    """A ``LoggingServiceV2AsyncClient`` (call inside the running loop): Google's endpoint with the
    ambient credentials, or a plain-text local server when ``ARC_LOGGING_EMULATOR_HOST`` is set."""
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2AsyncClient

    host = settings.logging_emulator_host
    if not host:
        return LoggingServiceV2AsyncClient()
    import grpc
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.logging_v2.services.logging_service_v2.transports.grpc_asyncio import (
        LoggingServiceV2GrpcAsyncIOTransport,
    )

    return LoggingServiceV2AsyncClient(
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=host),
        transport=lambda host=host, **_: LoggingServiceV2GrpcAsyncIOTransport(
            channel=grpc.aio.insecure_channel(host), host=host
        ),
    )


def _log_timezone(storage_root: str) -> tzinfo:
    """Nextflow writes JVM local time: UTC on Batch VMs, this machine's zone when it runs locally."""
    if storage_root.startswith("gs://"):
        return UTC
    return datetime.now().astimezone().tzinfo or UTC


async def build(
    settings: Settings,
    *,
    database_url: str | None = None,
    storage: Storage | None = None,
    task_logs: TaskLogBackend | None = None,
) -> tuple[ServiceRegistration, LogsService]:
    """Connect the Logs service's backends (``storage`` / ``task_logs`` may be given, e.g. by tests)."""
    storage = storage or open_storage(
        settings.resolved_storage_root,
        signing_service_account=settings.gcs_signing_service_account,
        signed_url_minutes=settings.signed_url_minutes,
    )
    closers = []
    if task_logs is None:
        if uses_cloud_logging(settings):
            from services.logs.cloud_task_logs import CloudLoggingTaskLogs

            client = logging_client(settings)
            task_logs = CloudLoggingTaskLogs(client, settings.gcp_project)
            closers.append(client.transport.close)
        else:
            task_logs = FileTaskLogs(storage)
    runs_channel = open_channel(settings.service_address("runs"))
    service = LogsService(
        storage=storage,
        runs=RunsClient(runs_channel, credential=service_credential(settings, "logs")),
        task_logs=task_logs,
        tz=_log_timezone(settings.resolved_storage_root),
    )
    servicer = LogsServicer(service)

    async def stop() -> None:
        for close in closers:
            await close()
        await runs_channel.close()

    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: logs_service_pb2_grpc.add_LogsServiceServicer_to_server(servicer, server),
        on_stop=[stop],
    )
    return registration, service
