"""Bodies of the who-am-I and system routes (``gateway.routers.me``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from arc_core.contracts.run_status import STATUSES
from gateway.models.common import ResponseModel, Timestamp

_BY_STATUS = f"every status ({', '.join(f'`{s}`' for s in STATUSES)}) with its count, zeros included"


class CurrentUser(ResponseModel):
    """The caller as they see themselves (``arc.runs.v1.User``)."""

    email: str = Field(description="the caller's email (lower case)", examples=["alice@example.com"])
    display_name: str = Field(description="the display name the identity gave when the user was first seen")
    is_admin: bool = Field(description="true when the caller is in ARC_ADMIN_EMAILS (sees every run)")
    total_runs: int = Field(description="runs the caller created (recoveries and relaunches included)")
    successful_runs: int = Field(description="the caller's runs that completed")
    total_samples_processed: int = Field(description="samples in the caller's completed runs")
    runs_by_status: dict[str, int] = Field(description=f"the caller's runs: {_BY_STATUS}")
    preferences: dict[str, Any] = Field(description="what the caller stored with PATCH /api/me/preferences")
    created_at: Timestamp | None = Field(description="when the caller was first seen")


class ExecutorQueue(ResponseModel):
    """The local executor's orchestrators (zeros on Cloud Batch, which queues its own jobs)."""

    running: int = Field(description="orchestrators running")
    queued: int = Field(description="runs waiting for a free slot")
    capacity: int = Field(description="orchestrators that may run at once (ARC_LOCAL_MAX_CONCURRENT_RUNS)")


class SystemInfo(ResponseModel):
    """What the platform runs on, and how each service behind the gateway is."""

    version: str = Field(description="the platform's version", examples=["0.1.0"])
    executor: str = Field(description="where runs run: `local` (child processes) or `batch` (Cloud Batch)")
    storage: str = Field(description="where run files live: `local` (a directory) or `gcs` (a bucket)")
    nextflow_version: str = Field(
        description="the Nextflow runs use: found with `nextflow -version` at start-up (local) or"
        " ARC_NEXTFLOW_VERSION (Batch); empty when unknown",
        examples=["24.04.4"],
    )
    runs_by_status: dict[str, int] = Field(
        description=f"every run on the platform (purged ones included): {_BY_STATUS}; counted at most every few seconds"
    )
    queue: ExecutorQueue
    work_retention_days: int = Field(
        description="ARC_WORK_RETENTION_DAYS: work dirs of runs ended longer ago are deleted (0 = never)"
    )
    services: dict[str, str] = Field(
        description="each service's `grpc.health.v1` status (`SERVING`, `NOT_SERVING`, `UNREACHABLE (...)`),"
        " and the gateway's own"
    )
