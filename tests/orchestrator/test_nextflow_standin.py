"""The tests-only ``nextflow`` stand-in behaves like ``nextflow run`` where the platform depends on it."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.nextflow_outcome import parse_outcome

STANDIN = Path(__file__).resolve().parents[1] / "fakes" / "nextflow"
DEFAULT_TRACE_COLUMNS = [
    "task_id",
    "hash",
    "native_id",
    "name",
    "status",
    "exit",
    "submit",
    "duration",
    "realtime",
    "%cpu",
    "peak_rss",
    "peak_vmem",
    "rchar",
    "wchar",
]
LOG_LINE = re.compile(r"^[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \[[^\]]+\] (DEBUG|INFO |WARN |ERROR) \S+ - ")
SESSION = "3f2b6c1e-8d4a-4e57-9b1f-0a2c3d4e5f60"
PIPELINE = "nf-core/scrnaseq"


def nf_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any NXF_ variable, fast tasks, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NXF_")}
    env["NXF_FAKE_TASK_SECONDS"] = "0.05"
    env.update(extra)
    return env


def run_nf(launch: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the stand-in in ``launch`` (its launch dir) and wait for it."""
    launch.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(STANDIN), *args], cwd=launch, env=env or nf_env(), capture_output=True, text=True, timeout=60
    )


def write_inputs(base: Path, *, fail_task: str | None = None, outdir: bool = True, fmt: str = "yaml") -> Path:
    """A two-sample samplesheet and a params file pointing at it; returns the params file."""
    base.mkdir(parents=True, exist_ok=True)
    sheet = base / "samplesheet.csv"
    sheet.write_text(
        "sample,fastq_1,fastq_2,expected_cells\n"
        "sample1,s1_R1.fastq.gz,s1_R2.fastq.gz,5000\n"
        "sample2,s2_R1.fastq.gz,s2_R2.fastq.gz,5000\n",
        encoding="utf-8",
    )
    params: dict[str, object] = {"input": str(sheet)}
    if outdir:
        params["outdir"] = str(base / "results")
    if fail_task:
        params["fail_task"] = fail_task
    if fmt == "json":
        path = base / "params.json"
        path.write_text(json.dumps(params), encoding="utf-8")
    else:
        path = base / "params.yaml"
        path.write_text("# run params\n" + "".join(f'{k}: "{v}"\n' for k, v in params.items()), encoding="utf-8")
    (base / "nextflow.config").write_text("process {\n    executor = 'local'\n}\n", encoding="utf-8")
    return path


def run_args(base: Path, params: Path, logs: str = "logs", work: Path | None = None) -> list[str]:
    """The command line the orchestrator uses."""
    return [
        "run",
        PIPELINE,
        "-r",
        "2.7.1",
        "-c",
        str(params.parent / "nextflow.config"),
        "-params-file",
        str(params),
        "-work-dir",
        str(work or base / "work"),
        "-with-trace",
        f"{logs}/trace.txt",
        "-with-timeline",
        f"{logs}/timeline.html",
        "-with-report",
        f"{logs}/report.html",
        "-ansi-log",
        "false",
    ]


def read_trace(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        assert reader.fieldnames == DEFAULT_TRACE_COLUMNS
        return list(reader)


def by_status(rows: list[dict[str, str]], status: str) -> set[str]:
    return {r["name"] for r in rows if r["status"] == status}


def work_dir_of(work: Path, short_hash: str) -> Path:
    prefix, rest = short_hash.split("/")
    matches = [d for d in (work / prefix).iterdir() if d.name.startswith(rest)]
    assert len(matches) == 1, matches
    return matches[0]


def test_version_banner(tmp_path: Path) -> None:
    out = run_nf(tmp_path, "-version")
    assert out.returncode == 0
    assert "N E X T F L O W" in out.stdout and "version 24.04.4" in out.stdout
    short = run_nf(tmp_path, "-v")
    assert short.returncode == 0 and short.stdout.startswith("nextflow version 24.04.4")


def test_successful_run_writes_nextflow_formats(tmp_path: Path) -> None:
    params = write_inputs(tmp_path)
    out = run_nf(tmp_path, *run_args(tmp_path, params), env=nf_env(NXF_UUID=SESSION))
    assert out.returncode == 0, out.stderr

    # progress on stdout, like -ansi-log false
    assert "N E X T F L O W  ~  version 24.04.4" in out.stdout
    assert re.search(r"^\[[0-9a-f]{2}/[0-9a-f]{6}\] Submitted process > \S+:FASTQC \(sample1\)$", out.stdout, re.M)

    # trace: default columns, one row per task, human units
    rows = read_trace(tmp_path / "logs" / "trace.txt")
    assert len(rows) == 5
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert [int(r["task_id"]) for r in rows] == [1, 2, 3, 4, 5]
    names = {r["name"] for r in rows}
    assert "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (sample2)" in names
    assert "NFCORE_SCRNASEQ:SCRNASEQ:MULTIQC" in names
    for r in rows:
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{6}", r["hash"])
        assert r["exit"] == "0" and r["native_id"].isdigit()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}", r["submit"])
        assert re.fullmatch(r"\d+ms|\d+(\.\d)?s|(\d+[dhms] ?)+", r["duration"])
        assert re.fullmatch(r"\d+\.\d%", r["%cpu"])
        for col in ("peak_rss", "peak_vmem", "rchar", "wchar"):
            assert re.fullmatch(r"\d+(\.\d)? (B|KB|MB|GB)", r[col]), r[col]
        task_dir = work_dir_of(tmp_path / "work", r["hash"])
        assert len(task_dir.name) == 30
        for name in (".command.sh", ".command.run", ".command.out", ".command.err", ".command.log"):
            assert (task_dir / name).is_file()
        assert (task_dir / ".exitcode").read_text() == "0"
        assert (task_dir / ".command.out").read_text().strip()

    # .nextflow.log in the launch dir, in logback's format
    log = (tmp_path / ".nextflow.log").read_text()
    first = log.splitlines()[0]
    assert LOG_LINE.match(first) and "nextflow.cli.Launcher - $> nextflow run nf-core/scrnaseq" in first
    assert f"DEBUG nextflow.Session - Session UUID: {SESSION}" in log
    assert log.rstrip().endswith("> Execution complete -- Goodbye")
    stamped = [line for line in log.splitlines() if LOG_LINE.match(line)]
    assert len(stamped) > 20

    # timeline, report, results, history
    for name in ("timeline.html", "report.html"):
        assert (tmp_path / "logs" / name).read_text().lower().startswith("<!doctype html>")
    assert (tmp_path / "results" / "multiqc" / "multiqc_report.html").is_file()
    assert (tmp_path / "results" / "fastqc" / "sample2_1_fastqc.html").is_file()
    assert list((tmp_path / "results" / "pipeline_info").glob("params_*.json"))
    history = (tmp_path / ".nextflow" / "history").read_text().split("\t")
    assert history[3] == "OK" and history[5] == SESSION
    assert (tmp_path / ".nextflow" / "cache" / SESSION / "db").is_dir()

    outcome = parse_outcome(log, out.returncode)
    assert outcome.kind == "success" and outcome.session_id == SESSION
    assert outcome.run_name and re.fullmatch(r"[a-z]+_[a-z]+", outcome.run_name)


def test_json_params_and_cli_params(tmp_path: Path) -> None:
    params = write_inputs(tmp_path, outdir=False, fmt="json")
    args = run_args(tmp_path, params) + ["--outdir", str(tmp_path / "out2"), "-profile", "docker", "-bg"]
    out = run_nf(tmp_path, *args)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out2" / "multiqc" / "multiqc_report.html").is_file()


def test_failing_task(tmp_path: Path) -> None:
    params = write_inputs(tmp_path, fail_task="FASTQC (sample2)")
    out = run_nf(tmp_path, *run_args(tmp_path, params))
    assert out.returncode == 1

    rows = read_trace(tmp_path / "logs" / "trace.txt")
    failed = [r for r in rows if r["status"] == "FAILED"]
    assert [r["name"] for r in failed] == ["NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (sample2)"]
    assert failed[0]["exit"] == "1"
    assert "NFCORE_SCRNASEQ:SCRNASEQ:MULTIQC" not in {r["name"] for r in rows}
    task_dir = work_dir_of(tmp_path / "work", failed[0]["hash"])
    assert (task_dir / ".exitcode").read_text() == "1"
    assert "Failed to process file" in (task_dir / ".command.err").read_text()

    log = (tmp_path / ".nextflow.log").read_text()
    assert "ERROR nextflow.processor.TaskProcessor - Error executing process > " in log
    for section in (
        "Caused by:",
        "Command executed:",
        "Command exit status:",
        "Command output:",
        "Command error:",
        "Work dir:",
    ):
        assert f"\n{section}\n" in log
    assert f"Work dir:\n  {task_dir}\n" in log
    assert "ERROR ~ Error executing process >" in out.stdout
    assert not (tmp_path / "results" / "multiqc").exists()
    assert (tmp_path / "logs" / "report.html").is_file()  # written on failure too

    outcome = parse_outcome(log, out.returncode)
    assert outcome.kind == "task_failure"
    assert outcome.error_task == "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (sample2)"
    assert outcome.error_message and "terminated with an error exit status (1)" in outcome.error_message
    assert "SequenceFormatException" in outcome.error_message
    assert outcome.session_id and outcome.run_name


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_outdir", "Missing required parameter(s): outdir"),
        ("fail_config", "Unable to parse config file"),
        ("missing_config", "The specified configuration file does not exist"),
        ("unknown_option", "Unknown option: -frobnicate"),
        ("bad_params_ext", "Not a valid params file extension"),
    ],
)
def test_launch_errors(tmp_path: Path, case: str, expected: str) -> None:
    params = write_inputs(tmp_path, outdir=case != "missing_outdir")
    args = run_args(tmp_path, params)
    if case == "fail_config":
        args += ["--fail_config", "true"]
    elif case == "missing_config":
        args[args.index("-c") + 1] = str(tmp_path / "nope.config")
    elif case == "unknown_option":
        args.append("-frobnicate")
    elif case == "bad_params_ext":
        shutil.copy(params, tmp_path / "params.txt")
        args[args.index("-params-file") + 1] = str(tmp_path / "params.txt")
    out = run_nf(tmp_path, *args)
    assert out.returncode == 1
    log = (tmp_path / ".nextflow.log").read_text()
    assert "ERROR nextflow.cli.Launcher - " in log
    assert expected in out.stderr
    assert "Submitted process" not in log
    assert not (tmp_path / "work").exists()
    outcome = parse_outcome(log, out.returncode)
    assert outcome.kind == "launch_error", outcome
    assert outcome.error_message and expected in outcome.error_message
    assert outcome.error_task is None


def test_resume_with_cache_reuses_completed_tasks(tmp_path: Path) -> None:
    failing = write_inputs(tmp_path / "in1", fail_task="FASTQC (sample2)")
    first = run_nf(tmp_path, *run_args(tmp_path, failing, logs="logs1"))
    assert first.returncode == 1
    rows1 = read_trace(tmp_path / "logs1" / "trace.txt")
    outcome1 = parse_outcome((tmp_path / ".nextflow.log").read_text(), first.returncode)

    fixed = write_inputs(tmp_path / "in2")
    # `-resume` alone picks the last session of this launch dir's history
    second = run_nf(tmp_path, *run_args(tmp_path, fixed, logs="logs2"), "-resume")
    assert second.returncode == 0, second.stderr
    rows2 = read_trace(tmp_path / "logs2" / "trace.txt")
    log2 = (tmp_path / ".nextflow.log").read_text()
    # the first run's log was rolled to .nextflow.log.1, as Nextflow does
    assert "Error executing process" in (tmp_path / ".nextflow.log.1").read_text()
    assert "Error executing process" not in log2

    completed1 = by_status(rows1, "COMPLETED")
    assert completed1 and by_status(rows2, "CACHED") == completed1
    failed_name = next(iter(by_status(rows1, "FAILED")))
    assert failed_name in by_status(rows2, "COMPLETED")
    hashes1 = {r["name"]: r["hash"] for r in rows1}
    hashes2 = {r["name"]: r["hash"] for r in rows2}
    for name in completed1:
        assert hashes2[name] == hashes1[name]
    assert hashes2[failed_name] != hashes1[failed_name]  # a failed task re-runs in a new work dir
    assert "] Cached process > " in second.stdout and "] Cached process > " in log2
    outcome2 = parse_outcome(log2, second.returncode)
    assert outcome2.kind == "success"
    assert outcome2.session_id == outcome1.session_id
    assert outcome2.run_name != outcome1.run_name


def test_resume_without_cache_reruns_everything(tmp_path: Path) -> None:
    params = write_inputs(tmp_path / "in", fail_task="SIMPLEAF_QUANT")
    first = run_nf(tmp_path, *run_args(tmp_path, params, logs="logs1"))
    assert first.returncode == 1
    session = parse_outcome((tmp_path / ".nextflow.log").read_text(), 1).session_id
    assert session
    shutil.rmtree(tmp_path / ".nextflow" / "cache")

    fixed = write_inputs(tmp_path / "in2")
    second = run_nf(tmp_path, *run_args(tmp_path, fixed, logs="logs2"), "-resume", session)
    assert second.returncode == 0, second.stderr
    rows = read_trace(tmp_path / "logs2" / "trace.txt")
    assert not by_status(rows, "CACHED")
    assert len(by_status(rows, "COMPLETED")) == 5
    log = (tmp_path / ".nextflow.log").read_text()
    assert re.search(r"WARN  \S+ - .*cache.*re-executed", log)
    assert parse_outcome(log, 0).session_id == session


def test_cloud_cache_resumes_from_a_fresh_launch_dir(tmp_path: Path) -> None:
    store = tmp_path / "object-store"  # what the stand-in keeps gs:// objects in
    cloud = {"NXF_CLOUDCACHE_PATH": "gs://bucket/cache", "NXF_FAKE_OBJECT_STORE": str(store)}
    cache = store / "gs" / "bucket" / "cache"
    work = tmp_path / "bucket" / "work"
    failing = write_inputs(tmp_path / "in1", fail_task="FASTQC (sample2)")
    first = run_nf(tmp_path / "vm1", *run_args(tmp_path, failing, work=work), env=nf_env(**cloud))
    assert first.returncode == 1
    outcome1 = parse_outcome((tmp_path / "vm1" / ".nextflow.log").read_text(), 1)
    session = outcome1.session_id
    assert session and (cache / session / "db").is_dir()
    assert not (tmp_path / "vm1" / ".nextflow" / "cache").exists()
    completed1 = by_status(read_trace(tmp_path / "vm1" / "logs" / "trace.txt"), "COMPLETED")
    assert completed1

    fixed = write_inputs(tmp_path / "in2")
    args = [*run_args(tmp_path, fixed, work=work), "-resume", session]

    # A fresh VM has no history: like Nextflow, -resume SESSION is refused without NXF_IGNORE_RESUME_HISTORY
    refused = run_nf(tmp_path / "vm2", *args, env=nf_env(**cloud))
    assert refused.returncode == 1
    outcome = parse_outcome((tmp_path / "vm2" / ".nextflow.log").read_text(), 1)
    assert outcome.kind == "launch_error" and "Can't find a run with the specified id" in str(outcome.error_message)

    # ... and with the history ignored a run name must be given
    env = nf_env(**cloud, NXF_IGNORE_RESUME_HISTORY="true")
    unnamed = run_nf(tmp_path / "vm3", *args, env=env)
    assert unnamed.returncode == 1 and "Missing workflow run name" in unnamed.stderr

    second = run_nf(tmp_path / "vm4", *args, "-name", "recovery_1", env=env)
    assert second.returncode == 0, second.stderr
    rows = read_trace(tmp_path / "vm4" / "logs" / "trace.txt")
    assert by_status(rows, "CACHED") == completed1
    assert "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC (sample2)" in by_status(rows, "COMPLETED")
    outcome2 = parse_outcome((tmp_path / "vm4" / ".nextflow.log").read_text(), 0)
    assert outcome2 == outcome2.__class__("success", None, None, session, "recovery_1")

    # Without the cloud cache the fresh VM finds no cache: everything runs again
    env_local = nf_env(NXF_IGNORE_RESUME_HISTORY="true")
    third = run_nf(tmp_path / "vm5", *args, "-name", "recovery_2", env=env_local)
    assert third.returncode == 0, third.stderr
    assert not by_status(read_trace(tmp_path / "vm5" / "logs" / "trace.txt"), "CACHED")


@pytest.mark.parametrize("path", ["/tmp/work/.nextflow-cache", "work/.nextflow-cache", "file:///tmp/cache"])
def test_cloud_cache_is_refused_on_a_local_path(tmp_path: Path, path: str) -> None:
    # Nextflow 24.04.4 modules/nextflow/src/main/groovy/nextflow/Session.groovy, cloudCachePath():
    # `if( result.scheme !in ['s3','az','gs'] ) throw new IllegalArgumentException("Storage path not
    # supported by Cloud-cache - offending value: '${result}'")`
    params = write_inputs(tmp_path)
    out = run_nf(tmp_path, *run_args(tmp_path, params), env=nf_env(NXF_CLOUDCACHE_PATH=path))
    assert out.returncode == 1
    assert "Storage path not supported by Cloud-cache - offending value:" in out.stderr


def test_local_cache_dir_resumes_from_a_fresh_launch_dir(tmp_path: Path) -> None:
    # nf-commons/src/main/nextflow/Const.groovy getAppCacheDir(): NXF_CACHE_DIR holds cache/<session>/
    # (DefaultCacheStore) and the history file (HistoryFile.defaultFileName), so a recovery in another
    # launch dir finds the cache next to the work dir.
    cache_dir = tmp_path / "work" / ".nextflow-cache"
    work = tmp_path / "work"
    failing = write_inputs(tmp_path / "in1", fail_task="FASTQC (sample2)")
    first = run_nf(tmp_path / "vm1", *run_args(tmp_path, failing, work=work), env=nf_env(NXF_CACHE_DIR=str(cache_dir)))
    assert first.returncode == 1, first.stderr
    session = parse_outcome((tmp_path / "vm1" / ".nextflow.log").read_text(), 1).session_id
    assert session and (cache_dir / "cache" / session / "db").is_dir() and (cache_dir / "history").is_file()
    assert not (tmp_path / "vm1" / ".nextflow").exists()
    completed1 = by_status(read_trace(tmp_path / "vm1" / "logs" / "trace.txt"), "COMPLETED")

    fixed = write_inputs(tmp_path / "in2")
    env = nf_env(NXF_CACHE_DIR=str(cache_dir), NXF_IGNORE_RESUME_HISTORY="true")
    args = [*run_args(tmp_path, fixed, work=work), "-resume", session, "-name", "recovery_1"]
    second = run_nf(tmp_path / "vm2", *args, env=env)
    assert second.returncode == 0, second.stderr
    assert by_status(read_trace(tmp_path / "vm2" / "logs" / "trace.txt"), "CACHED") == completed1


@pytest.mark.parametrize("value", ["None", "not-a-uuid", "run-0a1b2c3d"])
def test_nxf_uuid_must_be_a_uuid(tmp_path: Path, value: str) -> None:
    # Session.groovy init(): `UUID.fromString(systemEnv.get('NXF_UUID'))` outside resume mode.
    params = write_inputs(tmp_path)
    out = run_nf(tmp_path, *run_args(tmp_path, params), env=nf_env(NXF_UUID=value))
    assert out.returncode == 1 and f"Invalid UUID string: {value}" in out.stderr


def test_nxf_uuid_is_ignored_when_resuming(tmp_path: Path) -> None:
    params = write_inputs(tmp_path)
    assert run_nf(tmp_path, *run_args(tmp_path, params), env=nf_env(NXF_UUID=SESSION)).returncode == 0
    (params.parent / "nextflow.config").write_text(
        "trace.overwrite = true\nreport.overwrite = true\ntimeline.overwrite = true\n"
    )
    again = run_nf(tmp_path, *run_args(tmp_path, params), "-resume", SESSION, env=nf_env(NXF_UUID="None"))
    assert again.returncode == 0, again.stderr  # NXF_UUID is not parsed in resume mode


def test_a_retried_task_leaves_its_failed_attempt_in_the_trace(tmp_path: Path) -> None:
    # nf-core conf/base.config: errorStrategy = { task.exitStatus in ((130..145) + 104) ? 'retry' : 'finish' },
    # maxRetries = 1; TraceFileObserver writes a record for every attempt, the failed one included.
    params = write_inputs(tmp_path, fail_task="FASTQC (sample2)")
    with open(params, "a", encoding="utf-8") as fh:
        fh.write("fail_exit_code: 137\nfail_attempts: 1\n")
    out = run_nf(tmp_path, *run_args(tmp_path, params))
    assert out.returncode == 0, out.stderr
    rows = [r for r in read_trace(tmp_path / "logs" / "trace.txt") if r["name"].endswith("FASTQC (sample2)")]
    assert [(r["status"], r["exit"]) for r in rows] == [("FAILED", "137"), ("COMPLETED", "0")]
    assert int(rows[0]["task_id"]) < int(rows[1]["task_id"])
    assert "Execution is retried (1)" in (tmp_path / ".nextflow.log").read_text()


def test_a_deterministic_failure_is_not_retried(tmp_path: Path) -> None:
    params = write_inputs(tmp_path, fail_task="FASTQC (sample2)")  # exit 1: nf-core does not retry it
    out = run_nf(tmp_path, *run_args(tmp_path, params))
    assert out.returncode == 1
    rows = [r for r in read_trace(tmp_path / "logs" / "trace.txt") if r["name"].endswith("FASTQC (sample2)")]
    assert [r["status"] for r in rows] == ["FAILED"]


def test_resume_reruns_a_task_whose_inputs_changed(tmp_path: Path) -> None:
    # TaskProcessor.createTaskHashKey (standard cache mode): input files by path, size and last-modified.
    base = tmp_path / "in"
    params = write_inputs(base)
    for name in ("s1_R1", "s1_R2", "s2_R1", "s2_R2"):
        (tmp_path / f"{name}.fastq.gz").write_bytes(b"reads")
    sheet = base / "samplesheet.csv"
    sheet.write_text(sheet.read_text().replace("s1_R1.fastq.gz", str(tmp_path / "s1_R1.fastq.gz")))
    assert run_nf(tmp_path, *run_args(tmp_path, params), env=nf_env(NXF_UUID=SESSION)).returncode == 0
    (tmp_path / "s1_R1.fastq.gz").write_bytes(b"other reads")  # sample1's input changed
    (params.parent / "nextflow.config").write_text(
        "trace.overwrite = true\nreport.overwrite = true\ntimeline.overwrite = true\n"
    )
    again = run_nf(tmp_path, *run_args(tmp_path, params), "-resume", SESSION)
    assert again.returncode == 0, again.stderr
    rows = read_trace(tmp_path / "logs" / "trace.txt")
    cached, completed = by_status(rows, "CACHED"), by_status(rows, "COMPLETED")
    assert all("(sample2)" in name for name in cached) and len(cached) == 2
    assert any("(sample1)" in name for name in completed) and any(name.endswith("MULTIQC") for name in completed)


def test_existing_trace_file_needs_overwrite(tmp_path: Path) -> None:
    params = write_inputs(tmp_path)
    assert run_nf(tmp_path, *run_args(tmp_path, params)).returncode == 0
    again = run_nf(tmp_path, *run_args(tmp_path, params))
    assert again.returncode == 1 and "Trace file already exists" in again.stderr
    (params.parent / "nextflow.config").write_text("trace.overwrite = true\nreport { overwrite = true }\n")
    assert run_nf(tmp_path, *run_args(tmp_path, params)).returncode == 0


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 1), (signal.SIGINT, 130)])
def test_signal_stops_the_run(tmp_path: Path, signum: int, code: int) -> None:
    params = write_inputs(tmp_path)
    proc = subprocess.Popen(
        [str(STANDIN), *run_args(tmp_path, params)],
        cwd=tmp_path,
        env=nf_env(NXF_FAKE_TASK_SECONDS="5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        log_path = tmp_path / ".nextflow.log"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if log_path.exists() and "Submitted process >" in log_path.read_text():
                break  # the log is followed live
            time.sleep(0.02)
        else:
            pytest.fail("no task was submitted")
        proc.send_signal(signum)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code
    rows = read_trace(tmp_path / "logs" / "trace.txt")
    assert rows and {r["status"] for r in rows} == {"ABORTED"}
    assert len(rows) < 5
    log = log_path.read_text()
    assert "Session aborted -- Cause: SIG" in log
    outcome = parse_outcome(log, proc.returncode)
    assert outcome.kind == "killed" and outcome.session_id


def test_runs_under_plain_python3(tmp_path: Path) -> None:
    """The stand-in is stdlib-only: it runs with any interpreter, not just the venv's."""
    params = write_inputs(tmp_path)
    out = subprocess.run(
        [sys.executable, "-I", str(STANDIN), *run_args(tmp_path, params)],
        cwd=tmp_path,
        env=nf_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
