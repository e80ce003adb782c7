"""One Run model: the table, the store, the model and the proto agree, and every field is mapped once.

Adding a column without its model field, a model field without its proto mapping, or a proto field that
nothing fills fails here.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from arc.runs.v1 import run_pb2
from arc_core.contracts.run_status import STATUSES
from arc_core.db import create_pool
from services.runs import store as store_module
from services.runs.convert import DERIVED_PROTO_FIELDS, RUN_TIMESTAMPS, STATUS_TO_PROTO, from_struct, run_to_proto
from services.runs.model import RUN_FIELDS, TIMESTAMP_FIELDS, Run
from services.runs.schema import migrate
from services.runs.store import RunStore, snapshot_to_run
from tests.support.runs import insert_run

# Columns of `runs` that never leave the store (the orchestrator token's digest, the client's request id,
# the name's trigrams for search).
PRIVATE_COLUMNS = {"orchestrator_token_sha256", "request_id", "name_trigrams"}
PROTO_FIELDS = {field.name for field in run_pb2.Run.DESCRIPTOR.fields}

T0 = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)


def full_run(**overrides: Any) -> Run:
    """A Run with every field set to a value that is not its proto default."""
    values: dict[str, Any] = {
        "run_id": "run-0123abcd",
        "pipeline": "nf-core/scrnaseq",
        "pipeline_version": "2.7.1",
        "status": "failed",
        "user_email": "alice@example.com",
        "user_name": "Alice",
        "gcs_path": "gs://bucket/runs/run-0123abcd",
        "batch_job_name": "projects/p/locations/l/jobs/j",
        "params": {"genome": "GRCh38", "cells": 3},
        "sample_count": 2,
        "source_ngs_runs": ["NGS_1", "NGS_2"],
        "source_project": "PRJ",
        "parent_run_id": "run-00000001",
        "is_recovery": True,
        "recovery_notes": "again",
        "reused_work_dir": "gs://bucket/runs/run-00000001/work",
        "exit_code": 3,
        "error_message": "boom",
        "error_task": "FASTQC (s1)",
        "metrics": {"tasks_total": 5, "failure_kind": "task"},
        "nextflow_session_id": str(uuid.UUID(int=7)),
        "name": "scrnaseq · 2 samples · PRJ",
        "description": "the second try",
        "labels": {"project": "prj", "cost-centre": "lab_7"},
        "relaunched_from": "run-00000002",
    }
    values.update({name: T0 + timedelta(minutes=i) for i, name in enumerate(TIMESTAMP_FIELDS)})
    values.update(overrides)
    return Run(**values)


def proto_value(message: run_pb2.Run, name: str) -> Any:
    """A field of the message back as the model spells it."""
    field = run_pb2.Run.DESCRIPTOR.fields_by_name[name]
    value = getattr(message, name)
    if field.message_type is not None and field.message_type.full_name == "google.protobuf.Timestamp":
        return value.ToDatetime(tzinfo=UTC)
    if field.message_type is not None and field.message_type.full_name == "google.protobuf.Struct":
        return from_struct(value)
    if field.enum_type is not None:
        return run_pb2.Run.Status.Name(value).lower()
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return dict(value)
    if field.is_repeated:
        return list(value)
    return value


def test_the_store_selects_exactly_the_models_fields() -> None:
    assert store_module.RUN_COLUMNS == RUN_FIELDS
    assert store_module._SELECT == ", ".join(RUN_FIELDS)


@pytest.fixture(scope="module")
async def store(make_database):
    dsn = await make_database()
    await migrate(dsn)
    pool = await create_pool(dsn)
    yield RunStore(pool)
    await pool.close()


async def test_every_column_of_runs_is_a_model_field_or_private(store: RunStore) -> None:
    columns = {
        row["column_name"]
        for row in await store.pool.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'runs'"
        )
    }
    assert columns - PRIVATE_COLUMNS == set(RUN_FIELDS)
    assert PRIVATE_COLUMNS <= columns


async def test_the_store_returns_typed_runs(store: RunStore) -> None:
    run_id = await insert_run(store, status="completed", source_ngs_runs=["NGS_1"])
    run = await store.get_run(run_id)
    assert isinstance(run, Run)
    session = run.nextflow_session_id
    assert isinstance(session, str) and str(uuid.UUID(session)) == session  # the UUID column, as text
    assert all(getattr(run, name).tzinfo is not None for name in ("created_at", "updated_at", "completed_at"))
    assert run.params == {"genome": "GRCh38"} and run.source_ngs_runs == ["NGS_1"] and run.is_recovery is False
    [listed] = await store.list_runs(store_module.RunFilter(), after=None, skip=0, limit=10)
    history = await store.history(run_id)
    assert listed == run == history[-1].run
    assert [entry.run.status for entry in history] == ["pending", "submitted", "running", "completed"]


def test_every_proto_field_is_a_model_field_or_derived() -> None:
    assert PROTO_FIELDS - DERIVED_PROTO_FIELDS == set(RUN_FIELDS)
    assert DERIVED_PROTO_FIELDS <= PROTO_FIELDS


def test_every_model_field_reaches_its_proto_field() -> None:
    run = full_run()
    message = run_to_proto(run)
    for name in RUN_FIELDS:
        if _has_presence(name):
            assert message.HasField(name), name
        assert proto_value(message, name) == getattr(run, name), name


def _has_presence(name: str) -> bool:
    field = run_pb2.Run.DESCRIPTOR.fields_by_name[name]
    return field.has_presence and not field.is_repeated


def test_unset_fields_become_defaults() -> None:
    nulls = {name: None for name, field in Run.__dataclass_fields__.items() if "None" in str(field.type)}
    message = run_to_proto(full_run(**nulls, params={}))
    for name in TIMESTAMP_FIELDS:
        assert message.HasField(name) == (name not in nulls), name
    assert not message.HasField("exit_code") and not message.HasField("metrics")
    assert message.HasField("params") and from_struct(message.params) == {}
    assert message.user_name == message.batch_job_name == message.nextflow_session_id == ""
    assert list(message.source_ngs_runs) == []


def test_the_timestamps_come_from_the_status_contract() -> None:
    assert set(RUN_TIMESTAMPS) == set(TIMESTAMP_FIELDS)
    assert set(STATUS_TO_PROTO) == set(STATUSES)


def test_a_history_snapshot_maps_back_to_the_same_run() -> None:
    run = full_run()
    snapshot = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in dataclasses.asdict(run).items()
    }
    assert snapshot_to_run(json.dumps(snapshot)) == run
    assert snapshot_to_run(snapshot) == run
    # A snapshot taken before a column existed still maps (the column reads as unset).
    del snapshot["nextflow_session_id"]
    assert snapshot_to_run(snapshot).nextflow_session_id is None
