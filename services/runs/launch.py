"""Launch documents and relaunches: a run's CreateRun request rebuilt from its record and its stored inputs,
and the inputs of a new run made from that request with the caller's overrides.

The document is the user's part only: the params they gave (``Run.params``; the platform's own are added to
``params.yaml`` at each create), their own config (``inputs/user.config``, not the rendered
``nextflow.config``) and the samplesheet as stored. Creating a run from it makes the same run again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from arc_core.contracts import run_layout as layout
from arc_core.errors import FailedPrecondition, NotFound
from arc_core.storage import Storage
from services.runs import status as st
from services.runs.inputs import RunInput
from services.runs.model import Run


@dataclass(frozen=True)
class LaunchDocument:
    """``arc.runs.v1.RunLaunch``: the CreateRun request of a run, field for field."""

    pipeline: str
    pipeline_version: str
    name: str
    description: str
    labels: dict[str, str]
    params: dict[str, Any]
    config_content: str
    samplesheet_csv: str
    source_ngs_runs: list[str]
    source_project: str

    def run_input(self, *, request_id: str = "") -> RunInput:
        return RunInput(
            pipeline=self.pipeline,
            pipeline_version=self.pipeline_version,
            samplesheet_csv=self.samplesheet_csv,
            config_content=self.config_content,
            params=dict(self.params),
            source_ngs_runs=list(self.source_ngs_runs),
            source_project=self.source_project,
            request_id=request_id,
            name=self.name,
            description=self.description,
            labels=dict(self.labels),
        )


@dataclass(frozen=True)
class RelaunchInput:
    """What a relaunch changes; ``None`` (or empty) keeps the source run's value."""

    pipeline_version: str = ""
    override_params: dict[str, Any] | None = None
    # True: ``override_params`` is merged over the run's params, a null value removing one (RFC 7386 at the
    # top level); False: it replaces them.
    merge_params: bool = False
    override_config: str | None = None
    override_samplesheet_csv: str | None = None
    name: str = ""  # empty: the default name (pipeline, sample count, project)
    request_id: str = ""


@dataclass(frozen=True)
class ValidationResult:
    """``arc.runs.v1.ValidateRunResponse``."""

    sample_count: int
    name: str
    warnings: list[str] = field(default_factory=list)


def check_not_purged(run: Run) -> None:
    if run.purged_at is not None:
        raise FailedPrecondition(
            f"run {run.run_id} was purged at {run.purged_at.isoformat()}: its inputs are gone",
            reason="RUN_PURGED",
            metadata={"purged_at": run.purged_at.isoformat()},
        )


def check_relaunchable(run: Run) -> None:
    if not st.is_terminal(run.status):
        raise FailedPrecondition(
            f"run {run.run_id} is {run.status}; only a completed, failed or cancelled run can be relaunched",
            reason="RUN_ACTIVE",
            metadata={"current_status": run.status},
        )
    check_not_purged(run)


async def read_launch(storage: Storage, run: Run) -> LaunchDocument:
    """The run's launch document, from its record and ``inputs/`` (FAILED_PRECONDITION once purged)."""
    check_not_purged(run)
    try:
        samplesheet, config = await asyncio.gather(
            storage.read_bytes(layout.inputs_key(run.run_id, layout.SAMPLESHEET)),
            _read_optional(storage, layout.inputs_key(run.run_id, layout.USER_CONFIG)),
        )
    except NotFound:
        raise FailedPrecondition(
            f"the samplesheet of run {run.run_id} is not in storage; its launch document cannot be rebuilt",
            reason="RUN_INPUTS_MISSING",
        ) from None
    return LaunchDocument(
        pipeline=run.pipeline,
        pipeline_version=run.pipeline_version,
        name=run.name,
        description=run.description or "",
        labels=dict(run.labels),
        params=dict(run.params or {}),
        config_content=config,
        samplesheet_csv=samplesheet.decode(),
        source_ngs_runs=list(run.source_ngs_runs or []),
        source_project=run.source_project or "",
    )


async def _read_optional(storage: Storage, key: str) -> str:
    """An input a run may lack (the user's config is an empty file at most): empty when missing."""
    try:
        return (await storage.read_bytes(key)).decode()
    except NotFound:
        return ""


def merged_params(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: a key with a null value removes the param."""
    merged = dict(base)
    for name, value in override.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def relaunch_input(source: LaunchDocument, relaunch: RelaunchInput) -> RunInput:
    """The new run's inputs: the source's, with the overrides; its name is the override or the default."""
    params = dict(source.params)
    if relaunch.override_params is not None:
        params = (
            merged_params(params, relaunch.override_params) if relaunch.merge_params else dict(relaunch.override_params)
        )
    return RunInput(
        pipeline=source.pipeline,
        pipeline_version=relaunch.pipeline_version or source.pipeline_version,
        samplesheet_csv=source.samplesheet_csv
        if relaunch.override_samplesheet_csv is None
        else relaunch.override_samplesheet_csv,
        config_content=source.config_content if relaunch.override_config is None else relaunch.override_config,
        params=params,
        source_ngs_runs=list(source.source_ngs_runs),
        source_project=source.source_project,
        request_id=relaunch.request_id,
        name=relaunch.name,
        description=source.description,
        labels=dict(source.labels),
    )
