"""The shared contracts of ``arc_core/contracts``: each one read back the way the other room reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from arc_core.contracts import names, platform_params, run_layout
from arc_core.contracts.job_environment import JobEnvironment, JobEnvironmentError
from orchestrator.config import OrchestratorConfig
from services.runs.executors.base import JobSpec

CATALOG = Path(__file__).resolve().parents[2] / "services" / "pipelines" / "catalog"


def make_spec(**overrides: object) -> JobSpec:
    fields: dict[str, object] = dict(
        run_id="run-0a1b2c3d",
        pipeline="nf-core/scrnaseq",
        pipeline_version="2.7.1",
        user_email="alice@example.com",
        run_root="gs://arc-bucket/runs/run-0a1b2c3d",
        config_uri="gs://arc-bucket/runs/run-0a1b2c3d/inputs/nextflow.config",
        params_uri="gs://arc-bucket/runs/run-0a1b2c3d/inputs/params.yaml",
        work_dir="gs://arc-bucket/runs/run-00000001/work",
        session_id="5a0c1b52-4a65-4a6e-9d51-3f0f5f8f1c11",
        resume_session_id="0f0f0f0f-4a65-4a6e-9d51-3f0f5f8f1c11",
        cache_uri="gs://arc-bucket/runs/run-00000001/work/.nextflow-cache",
        status_address="arc.example.com:443",
        token="secret-run-token",
        nextflow_bin="/opt/nextflow",
    )
    fields.update(overrides)
    return JobSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("cache_uri", ["gs://arc-bucket/w/.nextflow-cache", "/data/runs/run-0a1b2c3d/work/.nf"])
def test_the_orchestrator_reads_back_what_the_executor_writes(cache_uri: str) -> None:
    spec = make_spec(cache_uri=cache_uri)
    config = OrchestratorConfig.from_env(spec.environment())
    for name in JobEnvironment.model_fields:
        if hasattr(spec, name):
            assert getattr(config, name) == getattr(spec, name), name
    assert config.is_recovery and config.resume_session == spec.resume_session_id


def test_the_environment_of_a_spec_is_only_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Runs service's own environment never leaks into a job's (its knobs are the executor's to add)."""
    monkeypatch.setenv("ARC_LOG_SYNC_SECONDS", "0.2")
    monkeypatch.setenv("RUN_ID", "run-ffffffff")
    env = make_spec(resume_session_id=None).environment()
    assert "ARC_LOG_SYNC_SECONDS" not in env and env["RUN_ID"] == "run-0a1b2c3d"
    assert env["IS_RECOVERY"] == "false" and "RESUME_SESSION_ID" not in env


def test_reading_names_every_problem_and_nothing_from_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_ID", "run-ffffffff")
    with pytest.raises(JobEnvironmentError) as err:
        JobEnvironment.from_environ({"PIPELINE": "  ", "BATCH_TASK_RETRY_ATTEMPT": "x"})
    assert "RUN_ID is not set" in err.value.problems and "PIPELINE is not set" in err.value.problems
    assert "BATCH_TASK_RETRY_ATTEMPT must be a whole number, not 'x'" in err.value.problems


def test_the_run_layout() -> None:
    run = "run-0a1b2c3d"
    assert run_layout.inputs_key(run, run_layout.SAMPLESHEET) == "runs/run-0a1b2c3d/inputs/samplesheet.csv"
    assert run_layout.logs_key(run, run_layout.TRACE) == "runs/run-0a1b2c3d/logs/trace.txt"
    assert run_layout.results_prefix(run) == "runs/run-0a1b2c3d/results"
    assert run_layout.cache_uri("gs://b/runs/x/work/") == "gs://b/runs/x/work/.nextflow-cache"
    assert run_layout.attempt_log_in_run(1, run_layout.NEXTFLOW_LOG) == "logs/attempts/1/nextflow.log"
    # The orchestrator's keys (relative to the run's root) name the same objects as the services' keys.
    assert run_layout.join(run_layout.run_root(run), run_layout.log_in_run("x")) == run_layout.logs_key(run, "x")


def test_platform_params_point_into_the_run() -> None:
    keys = {n: platform_params.value_key("run-0a1b2c3d", k) for n, k in platform_params.DEFAULT_PLATFORM_PARAMS.items()}
    assert keys == {"input": "runs/run-0a1b2c3d/inputs/samplesheet.csv", "outdir": "runs/run-0a1b2c3d/results"}
    with pytest.raises(ValueError):
        platform_params.value_key("run-0a1b2c3d", "work")


@pytest.mark.parametrize("manifest", sorted(CATALOG.glob("*/manifest.yaml")), ids=lambda p: p.parent.name)
def test_every_catalog_pipeline_fits_the_shared_rules(manifest: Path) -> None:
    data = yaml.safe_load(manifest.read_text())
    assert names.PIPELINE_NAME_RE.match(data["name"])
    assert all(names.SEMVER_RE.match(str(v["version"])) for v in data["versions"])
    # Runs fills the default platform params: a pipeline that names others needs Pipelines to say so.
    assert dict(data["platform_params"]) == dict(platform_params.DEFAULT_PLATFORM_PARAMS)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("nf-core/scrnaseq", True),
        ("demo/hello", True),
        ("hello", False),
        ("Nf-core/x", False),
        ("a/" + "b" * 50, False),
    ],
)
def test_one_pipeline_name_rule(name: str, ok: bool) -> None:
    assert bool(names.PIPELINE_NAME_RE.match(name)) is ok


def test_run_ids_and_job_ids() -> None:
    run_id = names.new_run_id()
    assert names.is_run_id(run_id) and not names.is_run_id("run-0A1B2C3D") and not names.is_run_id("")
    assert names.run_id_of_job(names.job_id(run_id)) == run_id
