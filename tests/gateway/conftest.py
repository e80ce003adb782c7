"""Gateway tests: one running platform (every service + the gateway) per module, on its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.platform import Running, running_platform

NEXTFLOW_STANDIN = str(Path(__file__).resolve().parents[1] / "fakes" / "nextflow")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    dsn = await make_database()
    async with running_platform(
        database_url=dsn, data_dir=tmp_path_factory.mktemp("arc"), nextflow_bin=NEXTFLOW_STANDIN
    ) as running:
        yield running
