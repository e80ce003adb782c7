"""``update_status.py RUN_ID STATUS [options]``: report a run's status by hand or from a script.

Keeps the product spec's command line and goes the orchestrator's way: ``ReportRunStatus`` at
``ARC_STATUS_ADDRESS`` with the run-scoped token from ``ARC_RUN_TOKEN``, retried with backoff while the
service is unavailable. Timestamps are ISO 8601 (``2024-05-01T12:00:00Z``; no zone means UTC) or ``now``.

Exit status: 0 reported (or already so), 1 refused or failed, 2 bad arguments or environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.contracts.job_environment import RUN_TOKEN_VARIABLE, STATUS_ADDRESS_VARIABLE
from arc_core.contracts.run_status import REPORT_TIMESTAMP
from arc_core.errors import ArcError, FailedPrecondition
from arc_core.protos import timestamp
from orchestrator.status_client import STATUSES, StatusClient, build_request

TIMESTAMP_OPTIONS = tuple(REPORT_TIMESTAMP.values())


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 or ``now``; a time without a zone is taken as UTC."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2024-05-01T12:00:00Z)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_metrics(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"tasks_total\": 12}'")
    return value


def parse_status(text: str) -> str:
    status = text.strip().lower()
    if status not in STATUSES:
        raise argparse.ArgumentTypeError(f"unknown status {text!r}; expected one of {', '.join(STATUSES)}")
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="update_status.py",
        description="Report a run's status to the Runs service (token: ARC_RUN_TOKEN, address: ARC_STATUS_ADDRESS).",
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("status", metavar="STATUS", type=parse_status, help=" | ".join(STATUSES))
    for name in TIMESTAMP_OPTIONS:
        parser.add_argument(f"--{name}", type=parse_timestamp, metavar="TIME", help="ISO 8601 or 'now'")
    parser.add_argument("--error_message")
    parser.add_argument("--error_task")
    parser.add_argument("--exit_code", type=int)
    parser.add_argument("--metrics", type=parse_metrics, metavar="JSON", help="a JSON object")
    parser.add_argument("--nextflow_session_id")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line (argparse exits with status 2 and a message on bad input)."""
    return build_parser().parse_args(list(argv))


def request_from_args(args: argparse.Namespace) -> runs_service_pb2.ReportRunStatusRequest:
    request = build_request(
        args.run_id,
        args.status,
        error_message=args.error_message,
        error_task=args.error_task,
        exit_code=args.exit_code,
        metrics=args.metrics,
        nextflow_session_id=args.nextflow_session_id,
    )
    # Every given time is sent; the service keeps the one that goes with the status.
    for name in TIMESTAMP_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            getattr(request, name).CopyFrom(timestamp(value))
    return request


async def send(request: runs_service_pb2.ReportRunStatusRequest, *, address: str, token: str) -> run_pb2.Run:
    async with StatusClient(address, token) as client:
        return await client.send(request)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    token = env.get(RUN_TOKEN_VARIABLE, "").strip()
    address = env.get(STATUS_ADDRESS_VARIABLE, "").strip()
    missing = [name for name, value in ((RUN_TOKEN_VARIABLE, token), (STATUS_ADDRESS_VARIABLE, address)) if not value]
    if missing:
        parser.error(f"{' and '.join(missing)} must be set")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="update_status: %(message)s")
    try:
        run = asyncio.run(send(request_from_args(args), address=address, token=token))
    except FailedPrecondition as exc:
        print(f"update_status: refused: {exc.message}", file=sys.stderr)
        return 1
    except ArcError as exc:
        print(f"update_status: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return 1
    print(f"{run.run_id}: {run_pb2.Run.Status.Name(run.status).lower()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
