"""The Run model <-> ``arc.runs.v1`` messages."""

from __future__ import annotations

from typing import cast

from arc.runs.v1 import run_pb2
from arc_core.contracts.run_status import TIMESTAMP_COLUMN
from arc_core.protos import from_struct, timestamp, to_struct
from services.runs.model import Run

__all__ = ["STATUS_FROM_PROTO", "STATUS_TO_PROTO", "from_struct", "run_to_proto", "timestamp", "to_struct"]

# cast: the stubs type an enum's values as plain ints.
STATUS_TO_PROTO: dict[str, run_pb2.Run.Status] = {
    name.lower(): cast("run_pb2.Run.Status", value) for name, value in run_pb2.Run.Status.items() if value
}
STATUS_FROM_PROTO = {value: name for name, value in STATUS_TO_PROTO.items()}

RUN_TIMESTAMPS = ("created_at", "updated_at", *TIMESTAMP_COLUMN.values(), "purged_at", "work_deleted_at")
"""Every timestamp of a run: its creation, its last change, the one each status sets when entered, and the
deletions of its files."""

DERIVED_PROTO_FIELDS: frozenset[str] = frozenset()
"""Fields of ``arc.runs.v1.Run`` not copied from the model field of the same name (none so far): a field
listed here is computed by :func:`run_to_proto`, and ``tests/runs/test_run_model.py`` checks the rest."""


def run_to_proto(run: Run) -> run_pb2.Run:
    """The one mapping of a Run to its message; ``None`` becomes the field's default (or no field)."""
    message = run_pb2.Run(
        run_id=run.run_id,
        pipeline=run.pipeline,
        pipeline_version=run.pipeline_version,
        status=STATUS_TO_PROTO[run.status],
        user_email=run.user_email,
        user_name=run.user_name or "",
        gcs_path=run.gcs_path,
        batch_job_name=run.batch_job_name or "",
        sample_count=run.sample_count or 0,
        source_ngs_runs=run.source_ngs_runs or (),
        source_project=run.source_project or "",
        parent_run_id=run.parent_run_id or "",
        is_recovery=run.is_recovery,
        recovery_notes=run.recovery_notes or "",
        reused_work_dir=run.reused_work_dir or "",
        error_message=run.error_message or "",
        error_task=run.error_task or "",
        nextflow_session_id=run.nextflow_session_id or "",
        name=run.name,
        description=run.description or "",
        labels=run.labels,
        relaunched_from=run.relaunched_from or "",
    )
    for name in RUN_TIMESTAMPS:
        value = getattr(run, name)
        if value is not None:
            getattr(message, name).CopyFrom(timestamp(value))
    message.params.CopyFrom(to_struct(run.params))  # always present, even when empty
    if run.metrics is not None:
        message.metrics.CopyFrom(to_struct(run.metrics))
    if run.exit_code is not None:
        message.exit_code = run.exit_code
    return message
