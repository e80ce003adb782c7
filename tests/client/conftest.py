"""One running platform (every service, the Nextflow stand-in) per module, and a cutting proxy in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.client.proxy import CuttingProxy
from tests.support.platform import NEXTFLOW_STANDIN, Running, running_platform


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    with pytest.MonkeyPatch.context() as env:
        # Tasks long enough that a run lasts a few seconds: its events and log arrive while it is watched.
        env.setenv("NXF_FAKE_TASK_SECONDS", "0.3")
        env.setenv("ARC_LOG_SYNC_SECONDS", "0.2")
        async with running_platform(
            database_url=await make_database(),
            data_dir=tmp_path_factory.mktemp("arc-client"),
            nextflow_bin=NEXTFLOW_STANDIN,
            progress_interval_seconds=0.3,
            local_max_concurrent_runs=4,
        ) as running:
            yield running


@pytest.fixture
async def proxy(platform: Running) -> AsyncIterator[CuttingProxy]:
    proxy = CuttingProxy(platform.grpc_address)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
