"""Rows of the runs table <-> ``arc.runs.v1`` messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arc.runs.v1 import run_pb2
from arc_core.protos import from_struct, timestamp, to_struct

__all__ = ["STATUS_FROM_PROTO", "STATUS_TO_PROTO", "from_struct", "run_to_proto", "timestamp", "to_struct"]

STATUS_TO_PROTO = {name.lower(): value for name, value in run_pb2.Run.Status.items() if value}
STATUS_FROM_PROTO = {value: name for name, value in STATUS_TO_PROTO.items()}

_TIMESTAMPS = ("created_at", "updated_at", "submitted_at", "started_at", "completed_at", "failed_at", "cancelled_at")
_STRINGS = (
    "run_id",
    "pipeline",
    "pipeline_version",
    "user_email",
    "user_name",
    "gcs_path",
    "batch_job_name",
    "source_project",
    "parent_run_id",
    "recovery_notes",
    "reused_work_dir",
    "error_message",
    "error_task",
)


def run_to_proto(row: Mapping[str, Any]) -> run_pb2.Run:
    run = run_pb2.Run(status=STATUS_TO_PROTO[row["status"]], sample_count=row["sample_count"] or 0)
    for name in _STRINGS:
        if row.get(name) is not None:
            setattr(run, name, row[name])
    for name in _TIMESTAMPS:
        if row.get(name) is not None:
            getattr(run, name).CopyFrom(timestamp(row[name]))
    run.params.CopyFrom(to_struct(row.get("params")))
    if row.get("metrics") is not None:
        run.metrics.CopyFrom(to_struct(row["metrics"]))
    run.source_ngs_runs.extend(row.get("source_ngs_runs") or [])
    run.is_recovery = bool(row.get("is_recovery"))
    if row.get("exit_code") is not None:
        run.exit_code = row["exit_code"]
    if row.get("nextflow_session_id") is not None:
        run.nextflow_session_id = str(row["nextflow_session_id"])
    return run
