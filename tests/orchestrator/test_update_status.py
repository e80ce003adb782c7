"""``update_status.py``: the spec's command line, parsed strictly, and sent through the real Runs service."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from arc.runs.v1 import run_pb2
from orchestrator.update_status import parse_args, request_from_args
from services.runs.service import RunsService
from tests.support.platform import Running, running_platform
from tests.support.runs import insert_run

UPDATE_STATUS = Path(__file__).resolve().parents[2] / "orchestrator" / "update_status.py"


# --------------------------------------------------------------------------------------------------
# argument parsing


def test_full_command_line() -> None:
    args = parse_args(
        [
            "run-1a2b3c4d",
            "FAILED",
            "--failed_at",
            "2024-05-01T12:30:00Z",
            "--error_message",
            "Process `FASTQC (s1)` terminated with an error exit status (1)",
            "--error_task",
            "FASTQC (s1)",
            "--exit_code",
            "1",
            "--metrics",
            '{"tasks_total": 5, "failure_kind": "task"}',
        ]
    )
    request = request_from_args(args)
    assert request.run_id == "run-1a2b3c4d" and request.status == run_pb2.Run.FAILED
    assert request.failed_at.ToDatetime(tzinfo=UTC) == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert not request.HasField("started_at") and not request.HasField("completed_at")
    assert request.error_task == "FASTQC (s1)" and "exit status (1)" in request.error_message
    assert request.HasField("exit_code") and request.exit_code == 1
    assert dict(request.metrics) == {"tasks_total": 5, "failure_kind": "task"}


def test_minimal_command_line_sets_nothing_else() -> None:
    request = request_from_args(parse_args(["run-1a2b3c4d", "running"]))
    assert request.status == run_pb2.Run.RUNNING
    assert not request.HasField("started_at") and not request.HasField("metrics")
    assert not request.HasField("exit_code")  # unset, not 0
    assert request.error_message == request.error_task == request.nextflow_session_id == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # no zone: UTC
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))),
        ("2024-05-01 12:00:00.250000+00:00", datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps(text: str, expected: datetime) -> None:
    request = request_from_args(parse_args(["run-1a2b3c4d", "running", "--started_at", text]))
    assert request.started_at.ToDatetime(tzinfo=UTC) == expected


def test_now() -> None:
    before = datetime.now(UTC)
    request = request_from_args(parse_args(["run-1a2b3c4d", "completed", "--completed_at", "now"]))
    assert before <= request.completed_at.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run-1a2b3c4d", "finished"], "unknown status 'finished'"),
        (["run-1a2b3c4d", "running", "--started_at", "yesterday"], "not an ISO 8601 time"),
        (["run-1a2b3c4d", "failed", "--exit_code", "one"], "invalid int value"),
        (["run-1a2b3c4d", "completed", "--metrics", "{tasks: 1}"], "not valid JSON"),
        (["run-1a2b3c4d", "completed", "--metrics", "[1, 2]"], "must be a JSON object"),
        (["run-1a2b3c4d", "running", "--colour", "red"], "unrecognized arguments"),
        (["run-1a2b3c4d"], "the following arguments are required: STATUS"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# the command against the real Runs service


@pytest.fixture(scope="module")
async def platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    dsn = await make_database()
    data_dir = tmp_path_factory.mktemp("arc-update-status")
    async with running_platform(database_url=dsn, data_dir=data_dir, targets=["runs", "pipelines"]) as running:
        yield running


async def submitted_run(service: RunsService) -> tuple[str, str]:
    run_id = await insert_run(service.store, status="submitted", owner="bob@example.com", params={}, sample_count=1)
    return run_id, await service.issue_orchestrator_token(run_id)


async def update_status(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(UPDATE_STATUS),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_command_reports_through_the_runs_service(platform: Running) -> None:
    service: RunsService = platform.service("runs")
    run_id, token = await submitted_run(service)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARC_")}
    env |= {"ARC_STATUS_ADDRESS": platform.status_address, "ARC_RUN_TOKEN": token}

    code, out, err = await update_status(run_id, "running", "--started_at", "2024-05-01T12:00:00Z", env=env)
    assert code == 0, err
    assert out.strip() == f"{run_id}: running"
    code, out, err = await update_status(run_id, "running", env=env)  # a repeat is a no-op
    assert code == 0, err
    metrics = {"tasks_total": 5, "tasks_succeeded": 5}
    code, out, err = await update_status(
        run_id, "completed", "--exit_code", "0", "--metrics", json.dumps(metrics), env=env
    )
    assert code == 0, err

    row = await service.store.get_run(run_id)
    assert row.status == "completed" and row.exit_code == 0 and row.metrics == metrics
    assert row.started_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert [h.to_status for h in await service.store.history(run_id)] == [
        "pending",
        "submitted",
        "running",
        "completed",
    ]

    # After a terminal state the service refuses: reported once, not retried, exit 1.
    code, out, err = await update_status(run_id, "failed", "--error_message", "late", env=env)
    assert code == 1 and "refused" in err and "cannot become failed" in err
    assert (await service.store.get_run(run_id)).status == "completed"

    # Another run's token is not accepted.
    other_id, _ = await submitted_run(service)
    code, out, err = await update_status(other_id, "running", env=env)
    assert code == 1 and "Unauthenticated" in err
    assert (await service.store.get_run(other_id)).status == "submitted"


async def test_command_needs_token_and_address() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARC_")}
    code, out, err = await update_status("run-1a2b3c4d", "running", env=env)
    assert code == 2
    assert "ARC_RUN_TOKEN and ARC_STATUS_ADDRESS must be set" in err
