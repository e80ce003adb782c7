"""Wiring of the Runs service: database pool, migrations, storage, executor, event hub, reconciler."""

from __future__ import annotations

import asyncpg

from arc_core import db
from arc_core.grpc_client import open_channel
from arc_core.grpc_server import ServiceRegistration, SideServer
from arc_core.object_listing import ObjectLister
from arc_core.service_identity import service_credential
from arc_core.settings import Settings
from arc_core.storage import open_storage
from arc_core.version import VERSION
from services.runs.clients import LogsClient, PipelinesClient
from services.runs.events import RunEventHub
from services.runs.executors.base import Executor
from services.runs.executors.factory import make_executor
from services.runs.executors.local import LocalExecutor
from services.runs.input_locations import InputChecker, InputLocationPolicy
from services.runs.launcher import RunLauncher
from services.runs.progress import ProgressFeed
from services.runs.reconciler import Reconciler
from services.runs.retention import WorkRetention
from services.runs.schema import migrate
from services.runs.service import RunsService, UserLimits
from services.runs.servicer import (
    REPORT_METHOD,
    SERVICE_NAME,
    RunsServicer,
    add_to_main_server,
    add_to_status_server,
)
from services.runs.store import RunStore
from services.runs.system_info import ExecutorQueue, NextflowVersion, SystemFigures


async def build(settings: Settings, *, database_url: str) -> tuple[ServiceRegistration, RunsService]:
    """Connect the Runs service's backends; the registration's hooks start and stop them."""
    await migrate(database_url)
    pool = await db.create_pool(database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    store = RunStore(pool)
    storage = open_storage(
        settings.resolved_storage_root,
        signing_service_account=settings.gcs_signing_service_account,
        signed_url_minutes=settings.signed_url_minutes,
    )
    pipelines_channel = open_channel(settings.service_address("pipelines"))
    logs_channel = open_channel(settings.service_address("logs"))
    logs = LogsClient(logs_channel, service_credential(settings, "runs"))  # the poller calls as Runs itself
    progress = ProgressFeed(logs.progress, interval=settings.progress_interval_seconds)
    executor = make_executor(settings)
    system = system_figures(settings, store, executor)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(database_url)

    hub = RunEventHub(connect, lambda run_id: store.history(run_id))
    launcher = RunLauncher(
        store=store,
        storage=storage,
        executor=executor,
        # ARC_STATUS_ADDRESS (the internal load balancer), or the status port on loopback once bound (below).
        status_address=settings.status_address or f"127.0.0.1:{settings.status_port}",
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
        input_checker=InputChecker(
            policy=InputLocationPolicy(settings.resolved_input_locations, settings.resolved_storage_root),
            # With gs:// storage the lister shares the storage's client (the same credentials).
            lister=ObjectLister(client=getattr(storage, "client", None)),
            runs=store,
        ),
        system=system,
    )
    reconciler = Reconciler(
        store=store,
        executor=executor,
        connect=connect,
        interval=settings.reconcile_interval_seconds,
        grace=settings.reconcile_grace_seconds,
    )
    retention = WorkRetention(
        store=store,
        storage=storage,
        connect=connect,
        days=settings.work_retention_days,
        interval=settings.retention_interval_seconds,
    )

    async def start() -> None:
        system.nextflow.start()  # in the background: start-up never waits for (or fails on) Nextflow
        await hub.start()
        await executor.start()
        await reconciler.start()
        await retention.start()

    async def stop() -> None:
        await retention.stop()
        await reconciler.stop()
        await executor.close()  # running orchestrators keep running: a restart must not kill runs
        await progress.stop()
        await hub.stop()
        await pipelines_channel.close()
        await logs_channel.close()
        await system.stop()  # before the pool: a recount in the background uses it
        await pool.close()

    def status_bound(port: int) -> None:
        if not settings.status_address:
            launcher.status_address = f"127.0.0.1:{port}"

    servicer = RunsServicer(service)
    status_port = SideServer(
        name="status",
        port=settings.status_port,
        add_to_server=lambda server: add_to_status_server(servicer, server),
        self_authenticated=(REPORT_METHOD,),
        on_bound=status_bound,
    )
    registration = ServiceRegistration(
        name=SERVICE_NAME,
        add_to_server=lambda server: add_to_main_server(servicer, server),
        side_servers=[status_port],
        on_start=[start],
        on_stop=[stop],
        ready=store.ping,
    )
    return registration, service


def system_figures(settings: Settings, store: RunStore, executor: Executor) -> SystemFigures:
    """What GetSystemInfo reports: the local executor's Nextflow is probed at start-up, Batch's is configured."""
    local = executor if isinstance(executor, LocalExecutor) else None
    return SystemFigures(
        version=VERSION,
        executor=settings.executor,
        storage="gcs" if settings.resolved_storage_root.startswith("gs://") else "local",
        nextflow=NextflowVersion(nextflow_bin=settings.nextflow_bin)
        if local is not None
        else NextflowVersion(fixed=settings.nextflow_version),
        count_runs_by_status=store.count_runs_by_status,
        queue=(lambda: ExecutorQueue(*local.queue_counts())) if local is not None else ExecutorQueue,
        work_retention_days=settings.work_retention_days,
    )
