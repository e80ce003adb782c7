"""Protobuf messages -> the JSON the REST API returns (field names are the table's column names)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from arc.runs.v1 import run_pb2
from arc_core.protos import integral

# Output-only columns that are null until set (proto3 leaves them unset).
_RUN_NULLABLE = [f.name for f in run_pb2.Run.DESCRIPTOR.fields]


def message_dict(message: Message) -> dict[str, Any]:
    return integral(
        json_format.MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    )


def run_json(run: run_pb2.Run) -> dict[str, Any]:
    data = message_dict(run)
    for name in _RUN_NULLABLE:
        data.setdefault(name, None)
    data["status"] = run_pb2.Run.Status.Name(run.status).lower()
    if not run.HasField("metrics"):
        data["metrics"] = None
    for name in (
        "user_name",
        "batch_job_name",
        "source_project",
        "parent_run_id",
        "recovery_notes",
        "reused_work_dir",
        "error_message",
        "error_task",
        "nextflow_session_id",
        "description",
        "relaunched_from",
    ):
        if data.get(name) == "":
            data[name] = None
    if not run.source_ngs_runs:
        data["source_ngs_runs"] = None
    return data
