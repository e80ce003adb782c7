"""Bodies of the runs routes (``gateway.routers.runs``): a run, a page of runs, a run's files and its events."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from arc_core.contracts.run_status import STATUSES
from gateway.errors import ErrorBody
from gateway.models.common import NextPageToken, PageNumber, PageSize, ResponseModel, Timestamp, Total
from gateway.models.logs import ProcessProgress


class Run(ResponseModel):
    """A pipeline run (``gateway.convert.run_json``): the keys are the columns of the ``runs`` table, in the
    order of ``arc.runs.v1.Run``; every key is always there, null when unset."""

    run_id: str = Field(description="`run-` + 8 lower-case hex digits", examples=["run-0a1b2c3d"])
    pipeline: str = Field(description="the pipeline's registry name", examples=["nf-core/scrnaseq"])
    pipeline_version: str = Field(description="the pipeline's semantic version", examples=["2.7.1"])
    status: str = Field(description="where the run is in its lifecycle", json_schema_extra={"enum": list(STATUSES)})
    user_email: str = Field(description="the owner's email (lower case)")
    user_name: str | None = Field(description="the owner's display name, as the identity gave it")
    created_at: Timestamp | None = Field(description="when the run was created")
    updated_at: Timestamp | None = Field(description="the last change to the record")
    submitted_at: Timestamp | None = Field(description="null until the run is `submitted`")
    started_at: Timestamp | None = Field(description="null until the run is `running`")
    completed_at: Timestamp | None = Field(description="null unless the run `completed`")
    failed_at: Timestamp | None = Field(description="null unless the run `failed`")
    cancelled_at: Timestamp | None = Field(description="null unless the run was `cancelled`")
    gcs_path: str = Field(description="root URI of the run in storage (`gs://bucket/runs/run-…` or a local path)")
    batch_job_name: str | None = Field(description="the orchestrator job; null before submission")
    params: dict[str, Any] | None = Field(description="the pipeline params the user gave")
    sample_count: int = Field(description="distinct samples in the samplesheet")
    source_ngs_runs: list[str] | None = Field(description="the Benchling NGS runs of the samplesheet; null if none")
    source_project: str | None = Field(description="the Benchling project of those NGS runs")
    parent_run_id: str | None = Field(description="the run this one recovers; null for a fresh run")
    is_recovery: bool = Field(description="true when created by a recovery")
    recovery_notes: str | None = Field(description="the notes given to the recovery")
    reused_work_dir: str | None = Field(description="the parent's work dir a recovery resumes in")
    exit_code: int | None = Field(description="Nextflow's exit code once the run has ended")
    error_message: str | None = Field(description="why the run failed")
    error_task: str | None = Field(description="the task that failed, when Nextflow names one")
    metrics: dict[str, Any] | None = Field(
        description="figures the orchestrator reports at the end (task counts, `duration_seconds`, `failure_kind`)"
    )
    nextflow_session_id: str | None = Field(description="the Nextflow session id pinned for this run")
    name: str = Field(description="a name for people (default: pipeline, sample count and project)")
    description: str | None = Field(description="free text about the run")
    labels: dict[str, str] = Field(description="key → value, Google label rules")
    relaunched_from: str | None = Field(description="the run this one was relaunched from")
    purged_at: Timestamp | None = Field(description="when the run's files were purged; null while kept")
    work_deleted_at: Timestamp | None = Field(
        description="when the work dir was deleted (retention or purge); a recovery cannot reuse it after"
    )


class RunPage(ResponseModel):
    """A page of runs, newest first."""

    runs: list[Run]
    total: Total
    page: PageNumber
    page_size: PageSize
    next_page_token: NextPageToken


class RunFile(ResponseModel):
    path: str = Field(description="path relative to the run's root", examples=["results/multiqc/multiqc_report.html"])
    size: int = Field(description="size in bytes")
    updated_at: Timestamp = Field(description="when the file was last written")
    download_url: str = Field(description="a signed URL on GCS, or the gateway's `/api/runs/{id}/files/{path}`")


class RunFiles(ResponseModel):
    """A run's files in storage, by group (``arc_core.contracts.run_layout.FILE_GROUPS``)."""

    inputs: list[RunFile] = Field(description="the samplesheet, `nextflow.config` and `params.yaml`")
    results: list[RunFile] = Field(description="what the pipeline published")
    logs: list[RunFile] = Field(description="`nextflow.log`, `trace.txt`, `timeline.html`, `report.html`")


# Stream events: each SSE event (`event:`, `id:`, `data:` as JSON) or NDJSON line (`{event, data, id}`).


class RunProgress(ResponseModel):
    processes: list[ProcessProgress] = Field(description="the latest task counts, per process")


class WatchDone(ResponseModel):
    run_id: str
    last_sequence: int = Field(description="the sequence of the last event sent")


class RunEventData(RootModel[Run | RunProgress | WatchDone | ErrorBody]):
    """A run event's data, by its ``event``: ``status`` a Run, ``progress`` a RunProgress, ``done`` a WatchDone,
    ``error`` an ErrorBody."""


class RunEvent(ResponseModel):
    """One event of ``GET /api/runs/{run_id}/events``: ``status`` (the run after a change; the current run
    first), ``progress`` (task counts), then ``done`` (or ``error``)."""

    event: Literal["status", "progress", "done", "error"]
    data: RunEventData
    id: str | None = Field(default=None, description="the event's sequence: send it back as `Last-Event-ID`")


# --- launch documents and validation ---


class RunLaunch(ResponseModel):
    """A run's launch document (``GET /api/runs/{run_id}/launch``): exactly a ``POST /api/runs`` body, so
    posting it back (JSON, or YAML with ``Content-Type: application/yaml``) makes the same run again."""

    pipeline: str = Field(description="the pipeline's registry name", examples=["demo/hello"])
    pipeline_version: str = Field(description="the pipeline's version", examples=["1.0.0"])
    name: str = Field(description="the run's name")
    description: str = Field(description="the run's description; empty when none")
    labels: dict[str, str] = Field(description="the run's labels")
    params: dict[str, Any] = Field(description="the params the user gave (not the ones the platform fills)")
    source_ngs_runs: list[str] = Field(description="the Benchling NGS runs the samplesheet came from")
    source_project: str | None = Field(description="the Benchling project of those runs; null when none")
    config_content: str = Field(description="the user's own Nextflow config (not the rendered one)")
    samplesheet_csv: str = Field(description="the samplesheet as stored")


class RunValidation(ResponseModel):
    """``POST /api/runs:validate`` on valid inputs (invalid ones are a 400 with every violation)."""

    sample_count: int = Field(description="distinct samples in the samplesheet")
    name: str = Field(description="the name the run would get")
    warnings: list[str] = Field(
        description="valid, but a create would not go as meant now (e.g. a per-user limit is reached); often []"
    )


# --- history ---


class RunHistoryEntry(ResponseModel):
    """A status move (`kind` `status`) or an action that moved no status (`updated`, `work_deleted`, `purged`)."""

    kind: str = Field(description="what happened: `status`, `updated`, `work_deleted` or `purged`")
    time: Timestamp = Field(description="when it happened")
    actor: str = Field(description="who: a user's email, `orchestrator`, `reconciler`, `retention` or `runs`")
    reason: str = Field(description="why, in words")
    from_status: str | None = Field(
        description="the status before a move; null at creation and for actions",
        json_schema_extra={"enum": [*STATUSES, None]},
    )
    to_status: str = Field(
        description="the status after a move; for an action, the run's status at the time",
        json_schema_extra={"enum": list(STATUSES)},
    )


class RunLink(ResponseModel):
    relation: str = Field(
        description="`recovers` / `relaunches`: this run came from the other; `recovered_by` / `relaunched_by`:"
        " the other came from this one"
    )
    run_id: str = Field(description="the other run")
    created_at: Timestamp = Field(description="when the other run was created")


class RunHistory(ResponseModel):
    """``GET /api/runs/{run_id}/history``: every move and action, oldest first (the creation first), and the
    linked runs the caller may see."""

    run_id: str
    entries: list[RunHistoryEntry]
    links: list[RunLink]
