"""The names that cross rooms: run ids, pipeline names, pipeline versions, orchestrator job ids."""

from __future__ import annotations

import re
import secrets

from arc_core.errors import FieldViolation, InvalidArgument

RUN_ID_PATTERN = r"^run-[0-9a-f]{8}$"
"""DESIGN.md's run ids: ``run-`` and 8 lower-case hex digits (they name storage keys)."""
RUN_ID_RE = re.compile(RUN_ID_PATTERN)

PIPELINE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,48}/[a-z0-9][a-z0-9_.-]{0,48}$"
"""A catalog pipeline: ``owner/name`` as in ``nf-core/scrnaseq`` (every catalog manifest's ``name``)."""
PIPELINE_NAME_RE = re.compile(PIPELINE_NAME_PATTERN)

# semver.org 2.0.0, the official regular expression.
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)

JOB_ID_PREFIX = "nf-"


def new_run_id() -> str:
    """A fresh random run id (the caller retries on the rare clash)."""
    return f"run-{secrets.token_hex(4)}"


def is_run_id(value: str) -> bool:
    return RUN_ID_RE.match(value or "") is not None


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is one; else InvalidArgument on ``run_id`` (a run id names storage keys)."""
    if not is_run_id(run_id):
        raise InvalidArgument(
            "invalid run id", [FieldViolation("run_id", "must be 'run-' followed by 8 lower-case hex digits")]
        )
    return run_id


def job_id(run_id: str) -> str:
    """The orchestrator job's id: ``nf-{run_id}`` (DESIGN.md's limits)."""
    return f"{JOB_ID_PREFIX}{run_id}"


def run_id_of_job(job_id: str) -> str:
    """The run id a job id names (the inverse of :func:`job_id`)."""
    return job_id.removeprefix(JOB_ID_PREFIX)
