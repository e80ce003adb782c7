"""Where a run's files live: one definition of the layout of DESIGN.md's "Storage layout (per run)".

```
runs/{run_id}/inputs/samplesheet.csv | nextflow.config | params.yaml | user.config
runs/{run_id}/work/                    (Nextflow work dir; its resume cache in work/.nextflow-cache)
runs/{run_id}/results/
runs/{run_id}/logs/nextflow.log | trace.txt | timeline.html | report.html
runs/{run_id}/logs/attempts/{n}/...    (the logs of an attempt whose VM was preempted)
```

Keys are relative to the storage root (``arc_core.storage``). The orchestrator opens the storage on the run's
root instead, so it uses the ``*_in_run`` forms, which are relative to ``runs/{run_id}``.
"""

from __future__ import annotations

RUNS = "runs"
INPUTS, WORK, RESULTS, LOGS = "inputs", "work", "results", "logs"
FILE_GROUPS = (INPUTS, RESULTS, LOGS)
"""The folders a user may list and download (the work dir is not one)."""

SAMPLESHEET = "samplesheet.csv"
NEXTFLOW_CONFIG = "nextflow.config"
PARAMS_FILE = "params.yaml"
USER_CONFIG = "user.config"
"""The user's own config as given, kept so that a recovery can render the config again."""

NEXTFLOW_LOG = "nextflow.log"
TRACE = "trace.txt"
TIMELINE = "timeline.html"
REPORT = "report.html"
LOG_FILES = (NEXTFLOW_LOG, TRACE, TIMELINE, REPORT)
LIVE_LOG_FILES = (NEXTFLOW_LOG, TRACE)
"""The log files the orchestrator copies to storage while the run goes."""

ATTEMPTS = "attempts"
CACHE_FOLDER = ".nextflow-cache"
"""The Nextflow resume cache (cloud cache or ``NXF_CACHE_DIR``) inside the work dir."""


def run_root(run_id: str) -> str:
    """``runs/{run_id}``: the key of the run's folder."""
    return f"{RUNS}/{run_id}"


def join(root: str, *parts: str) -> str:
    """``root`` (a key, URI or path) and the parts below it, slash-separated."""
    return "/".join((root.rstrip("/"), *parts))


def group_prefix(run_id: str, group: str) -> str:
    """``runs/{run_id}/{group}``: one of the run's folders."""
    return join(run_root(run_id), group)


def inputs_prefix(run_id: str) -> str:
    return group_prefix(run_id, INPUTS)


def inputs_key(run_id: str, name: str) -> str:
    """``runs/{run_id}/inputs/{name}``."""
    return join(inputs_prefix(run_id), name)


def results_prefix(run_id: str) -> str:
    return group_prefix(run_id, RESULTS)


def work_prefix(run_id: str) -> str:
    return group_prefix(run_id, WORK)


def logs_key(run_id: str, name: str) -> str:
    """``runs/{run_id}/logs/{name}``."""
    return join(group_prefix(run_id, LOGS), name)


def input_in_run(name: str) -> str:
    """``inputs/{name}``, relative to the run's root."""
    return join(INPUTS, name)


def log_in_run(name: str) -> str:
    """``logs/{name}``, relative to the run's root."""
    return join(LOGS, name)


def attempt_log_in_run(attempt: int, name: str) -> str:
    """``logs/attempts/{attempt}/{name}``, relative to the run's root: an earlier attempt's log file."""
    return join(LOGS, ATTEMPTS, str(attempt), name)


def cache_uri(work_dir: str) -> str:
    """The Nextflow resume cache inside a work dir (a URI or a path)."""
    return join(work_dir, CACHE_FOLDER)
