"""One running platform (all services + gateway) per test module, on its own database."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.runs.service import RunsService, hash_token
from services.runs.store import NewRun
from tests.support.platform import Running, running_platform

NEXTFLOW_STANDIN = str(Path(__file__).resolve().parents[1] / "fakes" / "nextflow")


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """Runs created here really run: the local executor starts the orchestrator with the Nextflow stand-in."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NXF_FAKE_TASK_SECONDS", "0.05")
        env.setenv("ARC_LOG_SYNC_SECONDS", "0.2")
        dsn = await make_database()
        async with running_platform(
            database_url=dsn, data_dir=tmp_path_factory.mktemp("arc"), nextflow_bin=NEXTFLOW_STANDIN
        ) as running:
            yield running


@pytest.fixture
def runs_service(platform: Running) -> RunsService:
    return platform.service("runs")


async def insert_run(service: RunsService, owner: str = "alice@example.com", **overrides: object) -> str:
    """A pending run straight in the store (for state-machine tests that need no pipeline)."""
    run_id = f"run-{secrets.token_hex(4)}"
    fields = dict(
        run_id=run_id,
        pipeline="nf-core/scrnaseq",
        pipeline_version="2.7.1",
        user_email=owner,
        user_name=None,
        gcs_path=f"/tmp/runs/{run_id}",
        params={"genome": "GRCh38"},
        sample_count=2,
        source_ngs_runs=None,
        source_project=None,
        nextflow_session_id=str(uuid.uuid4()),
        orchestrator_token_sha256=hash_token("unused"),
        request_id=None,
    )
    fields.update(overrides)
    await service.store.touch_user(owner, owner.split("@")[0])
    await service.store.insert_run(NewRun(**fields))  # type: ignore[arg-type]
    return run_id
