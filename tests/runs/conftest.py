"""One running platform (all services + gateway) per test module, on its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.runs.service import RunsService
from tests.support.platform import NEXTFLOW_STANDIN, Running, standin_platform
from tests.support.runs import insert_run as support_insert_run

__all__ = ["NEXTFLOW_STANDIN", "insert_run"]


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """Runs created here really run: the local executor starts the orchestrator with the Nextflow stand-in."""
    dsn = await make_database()
    async with standin_platform(database_url=dsn, data_dir=tmp_path_factory.mktemp("arc")) as running:
        yield running


@pytest.fixture
def runs_service(platform: Running) -> RunsService:
    return platform.service("runs")


async def insert_run(service: RunsService, owner: str = "alice@example.com", **overrides: object) -> str:
    """A pending run straight in the store (for state-machine tests that need no pipeline)."""
    return await support_insert_run(service.store, owner=owner, **overrides)
