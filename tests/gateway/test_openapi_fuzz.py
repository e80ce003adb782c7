"""Property-based fuzz of the gateway's OpenAPI document (schemathesis) over real HTTP on the embedded stack.

For each operation of the document the gateway serves, schemathesis generates valid and invalid requests
(path, query, headers, body) and sends them to the running gateway; some of the valid ones name things
that exist (a finished run of the caller's with its logs, trace and a result, a catalog pipeline, a
Benchling NGS run), so the fuzz gets past "no such run" into the routes' real work. Three checks: no answer
is a 5xx (``not_a_server_error``), every status returned is one the document declares
(``status_code_conformance``), and every JSON body fits the schema the document gives for its status
(``response_schema_conformance``: the response models, and the error body). Bounded and deterministic: a
few examples per operation, a fixed seed (``derandomize``), no example database, no shrinking.

Hypothesis drives blocking ``requests`` calls, so each operation's fuzz runs in a worker thread while the
platform keeps serving on the test's event loop.

A last test runs schemathesis' own runner (``st run``) over the same gateway for the phases the Python API
does not drive: the schema's examples and the coverage phase (each parameter at and past its bounds, every
required field missing, wrong types...), with the same checks, bounded and deterministic too.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from arc_core.settings import Settings
from gateway.main import create_app
from services.runs import status as run_status
from tests.gateway.conftest import ALICE_HTTP
from tests.support.platform import Running
from tests.support.runs import insert_run

RUN_ID = "run-f022f022"
BENCHLING_RUN = "NGS-2024-002"  # in the embedded demo warehouse
FIXTURES = Path(__file__).resolve().parents[1] / "logs" / "fixtures"

MAX_EXAMPLES = 15
REQUEST_TIMEOUT_SECONDS = 15.0
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Server-Sent Event streams stay open while a run lives: they are not request/response calls.
STREAMS = {"watch_run", "stream_workflow_log", "stream_task_logs"}


def _operation_ids() -> list[str]:
    """Every operation of the document (built here without starting anything), but the streams."""
    document = create_app(Settings()).openapi()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    return [op_id for op_id in ids if op_id not in STREAMS]


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis keeps caches (constants, unicode data) under ./.hypothesis: not in the repository."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
async def existing(platform: Running) -> dict[str, str]:
    """Path parameters that name real things: a finished run of Alice's with its files, a pipeline, an NGS run."""
    run_id = await insert_run(
        platform.service("runs").store, status=run_status.COMPLETED, run_id=RUN_ID, gcs_path=f"runs/{RUN_ID}"
    )
    storage = platform.service("logs").storage
    for name, fixture in (("nextflow.log", "nextflow.log"), ("trace.txt", "trace_default.txt")):
        await storage.write_bytes(f"runs/{run_id}/logs/{name}", (FIXTURES / fixture).read_bytes())
    await storage.write_bytes(f"runs/{run_id}/results/multiqc/multiqc_report.html", b"<html></html>")
    return {
        "run_id": run_id,
        "task_id": "1",
        "path": "results/multiqc/multiqc_report.html",
        "name": "nf-core/scrnaseq",
    }


@pytest.fixture(scope="module")
async def schema(platform: Running) -> schemathesis.BaseSchema:
    """The document the running gateway serves, as schemathesis loads it."""
    response = await platform.http.get("/openapi.json")
    response.raise_for_status()
    return schemathesis.openapi.from_dict(response.json())


def _operation(schema: schemathesis.BaseSchema, operation_id: str) -> Any:
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") == operation_id:
            return operation
    raise AssertionError(f"{operation_id} is not in the served document")


def _fuzz(operation: Any, base_url: str, existing: dict[str, str]) -> None:
    """Runs in a worker thread: Hypothesis generates the cases, ``requests`` sends them."""
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    names = {p.name for p in operation.path_parameters}
    known = {**existing, "name": BENCHLING_RUN} if operation.path.startswith("/api/benchling/") else existing
    fixed = {name: value for name, value in known.items() if name in names}
    # The real run with the rest generated (a task id, a file path: `../` and all), then every name real.
    for variant in ({"run_id": fixed["run_id"]} if "run_id" in fixed and len(fixed) > 1 else None, fixed):
        if variant:
            strategies.append(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=variant))
    strategy = st.one_of(strategies)
    with requests.Session() as session:

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=base_url,
                session=session,
                headers=ALICE_HTTP,
                checks=CHECKS,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )

        run()


@pytest.mark.parametrize("operation_id", _operation_ids())
async def test_fuzz_operation(
    platform: Running, schema: schemathesis.BaseSchema, existing: dict[str, str], operation_id: str
) -> None:
    operation = _operation(schema, operation_id)
    await asyncio.to_thread(_fuzz, operation, str(platform.http.base_url).rstrip("/"), existing)


def test_the_fuzz_covers_every_operation_but_the_streams() -> None:
    document = create_app(Settings()).openapi()
    every = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    assert STREAMS <= every
    assert set(_operation_ids()) == every - STREAMS
    assert len(every - STREAMS) >= 20


async def test_every_phase_with_the_schemathesis_runner(platform: Running, tmp_path: Path) -> None:
    runner = Path(sys.executable).with_name("st")
    excluded = [arg for op_id in sorted(STREAMS) for arg in ("--exclude-operation-id", op_id)]
    name, value = next(iter(ALICE_HTTP.items()))
    process = await asyncio.create_subprocess_exec(
        str(runner),
        "run",
        f"{str(platform.http.base_url).rstrip('/')}/openapi.json",
        "--phases",
        "examples,coverage,fuzzing",
        "--checks",
        ",".join(check.__name__ for check in CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",  # a fixed seed and no example database
        "--workers",
        "1",
        "--request-timeout",
        str(REQUEST_TIMEOUT_SECONDS),
        "--header",
        f"{name}: {value}",
        *excluded,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # whatever it writes stays out of the repository
        env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"), "NO_COLOR": "1"},
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    assert process.returncode == 0, report
    assert " passed" in report, report
