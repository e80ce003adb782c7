"""Choose the executor from settings (``ARC_EXECUTOR``: ``local`` or ``batch``)."""

from __future__ import annotations

import functools

from arc_core.settings import Settings
from services.runs.executors.base import Executor

PLAINTEXT_SCHEME = "http://"


def make_executor(settings: Settings) -> Executor:
    """The configured executor; raises ValueError naming the missing settings for ``batch``.

    Local: orchestrators as child processes, state under ``ARC_DATA_DIR/executor``. Batch: one Cloud Batch
    job per run in ``ARC_GCP_PROJECT`` / ``ARC_GCP_REGION``; ``ARC_BATCH_API_ENDPOINT`` overrides the
    endpoint, and an ``http://HOST:PORT`` endpoint (a local fake, refused in production) is spoken to in
    plaintext without credentials.
    """
    if settings.executor == "local":
        from services.runs.executors.local import LocalExecutor

        return LocalExecutor(
            settings.data_dir / "executor",
            max_concurrent=settings.local_max_concurrent_runs,
            cancel_grace=settings.local_cancel_grace_seconds,
        )

    from google.api_core.client_options import ClientOptions
    from google.cloud import batch_v1

    from services.runs.executors.batch import BatchExecutor, ClientFactory, Network, plaintext_client_factory

    missing = [
        env
        for env, value in (
            ("ARC_GCP_PROJECT", settings.gcp_project),
            ("ARC_GCP_REGION", settings.gcp_region),
            ("ARC_ORCHESTRATOR_IMAGE", settings.orchestrator_image),
            ("ARC_ORCHESTRATOR_SERVICE_ACCOUNT", settings.orchestrator_service_account),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"ARC_EXECUTOR=batch needs {', '.join(missing)}")
    endpoint = settings.batch_api_endpoint
    factory: ClientFactory | None = None
    if endpoint.startswith(PLAINTEXT_SCHEME):
        if settings.environment == "production":
            raise ValueError("a plaintext ARC_BATCH_API_ENDPOINT (http://) is refused when ARC_ENVIRONMENT=production")
        factory = plaintext_client_factory(endpoint.removeprefix(PLAINTEXT_SCHEME))
    elif endpoint:
        options = ClientOptions(api_endpoint=endpoint)
        factory = functools.partial(batch_v1.BatchServiceAsyncClient, client_options=options)
    return BatchExecutor(
        project=settings.gcp_project,
        region=settings.gcp_region,
        image=settings.orchestrator_image,
        service_account=settings.orchestrator_service_account,
        client_factory=factory,
        network=Network(
            network=settings.batch_network,
            subnetwork=settings.batch_subnetwork,
            no_external_ip=settings.batch_no_external_ip,
        ),
    )
