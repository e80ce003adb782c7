"""Wiring of the Runs service: database pool, migrations, storage, executor, event hub, reconciler."""

from __future__ import annotations

import asyncpg

from arc.runs.v1 import runs_service_pb2_grpc
from arc_core import db
from arc_core.grpc_client import open_channel
from arc_core.grpc_server import ServiceRegistration
from arc_core.settings import Settings
from arc_core.storage import open_storage
from services.runs.clients import LogsClient, PipelinesClient
from services.runs.events import RunEventHub
from services.runs.executors.factory import make_executor
from services.runs.launcher import RunLauncher
from services.runs.progress import ProgressFeed
from services.runs.reconciler import Reconciler
from services.runs.service import RunsService, UserLimits
from services.runs.servicer import REPORT_METHOD, SERVICE_NAME, RunsServicer
from services.runs.store import RunStore


async def build(settings: Settings, *, database_url: str) -> tuple[ServiceRegistration, RunsService]:
    """Connect the Runs service's backends; the registration's hooks start and stop them."""
    await db.migrate(database_url)
    pool = await db.create_pool(database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    store = RunStore(pool)
    storage = open_storage(
        settings.resolved_storage_root,
        signing_service_account=settings.gcs_signing_service_account,
        signed_url_minutes=settings.signed_url_minutes,
    )
    pipelines_channel = open_channel(settings.service_address("pipelines"))
    logs_channel = open_channel(settings.service_address("logs"))
    progress = ProgressFeed(LogsClient(logs_channel).progress, interval=settings.progress_interval_seconds)
    executor = make_executor(settings)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(database_url)

    hub = RunEventHub(connect, lambda run_id: store.history(run_id))
    launcher = RunLauncher(
        store=store,
        storage=storage,
        executor=executor,
        status_address=settings.status_address or settings.service_address("runs"),
        nextflow_bin=settings.nextflow_bin,
    )
    service = RunsService(
        store=store,
        storage=storage,
        hub=hub,
        pipelines=PipelinesClient(pipelines_channel),
        launcher=launcher,
        progress=progress,
        limits=UserLimits(
            max_active=settings.max_active_runs_per_user, max_per_hour=settings.max_runs_created_per_hour
        ),
    )
    reconciler = Reconciler(
        store=store,
        executor=executor,
        connect=connect,
        interval=settings.reconcile_interval_seconds,
        grace=settings.reconcile_grace_seconds,
    )

    async def start() -> None:
        await hub.start()
        await executor.start()
        await reconciler.start()

    async def stop() -> None:
        await reconciler.stop()
        await executor.close()  # running orchestrators keep running: a restart must not kill runs
        await progress.stop()
        await hub.stop()
        await pipelines_channel.close()
        await logs_channel.close()
        await pool.close()

    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: runs_service_pb2_grpc.add_RunsServiceServicer_to_server(
            RunsServicer(service), server
        ),
        self_authenticated=(REPORT_METHOD,),
        on_start=[start],
        on_stop=[stop],
        ready=store.ping,
    )
    return registration, service
