"""Checks on CreateRun input that need no pipeline knowledge (the spec's limits), all reported at once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from arc_core.contracts.labels import label_problems
from arc_core.contracts.limits import MAX_CONFIG_BYTES, MAX_SAMPLESHEET_BYTES
from arc_core.contracts.names import PIPELINE_NAME_RE, RUN_ID_RE, SEMVER_RE
from arc_core.contracts.names import check_run_id as check_run_id  # the one rule, for this room
from arc_core.contracts.platform_params import DEFAULT_PLATFORM_PARAMS
from arc_core.errors import ViolationCollector

MAX_REQUEST_ID = 100
MAX_PARAMS_BYTES = 256 * 1024  # the params as JSON
MAX_NOTE_BYTES = 4 * 1024  # recovery notes, descriptions
MAX_NAME_LENGTH = 120

RUN_ID = RUN_ID_RE  # imported from here by input_locations
PLATFORM_PARAMS = tuple(DEFAULT_PLATFORM_PARAMS)


@dataclass
class RunInput:
    pipeline: str
    pipeline_version: str
    samplesheet_csv: str
    config_content: str
    params: dict[str, Any]
    source_ngs_runs: list[str] = field(default_factory=list)
    source_project: str = ""
    request_id: str = ""
    name: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def check_name_fields(problems: ViolationCollector, *, name: str, description: str, labels: dict[str, str]) -> None:
    """The rules for a run's name, description and labels (CreateRun and UpdateRun)."""
    if len(name) > MAX_NAME_LENGTH:
        problems.add("name", f"is {len(name)} characters; the limit is {MAX_NAME_LENGTH}")
    elif name and not name.strip():
        problems.add("name", "is only blanks")
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.add("name", "holds control characters")
    if len(description.encode()) > MAX_NOTE_BYTES:
        problems.add("description", f"is over the limit of {MAX_NOTE_BYTES} bytes (4 KB)")
    for location, problem in label_problems(labels):
        problems.add(location, problem)


def default_name(pipeline: str, sample_count: int, project: str) -> str:
    """``scrnaseq · 3 samples · ProjectX``: the name a run gets when it is given none."""
    parts = [pipeline.rsplit("/", 1)[-1], f"{sample_count} sample{'' if sample_count == 1 else 's'}"]
    if project.strip():
        parts.append(project.strip())
    return " · ".join(parts)[:MAX_NAME_LENGTH]


def check_run_input(run: RunInput) -> None:
    """Raise InvalidArgument listing every violation of the spec's limits."""
    problems = ViolationCollector()
    if not PIPELINE_NAME_RE.match(run.pipeline):
        problems.add("pipeline", "must look like 'nf-core/scrnaseq' (lower-case letters, digits, - _ .)")
    if len(run.pipeline_version) > 20 or not SEMVER_RE.match(run.pipeline_version):
        problems.add("pipeline_version", "must be a semantic version such as 2.7.1")
    size = len(run.samplesheet_csv.encode())
    if not run.samplesheet_csv.strip():
        problems.add("samplesheet_csv", "is empty")
    elif size > MAX_SAMPLESHEET_BYTES:
        problems.add("samplesheet_csv", f"is {size} bytes; the limit is {MAX_SAMPLESHEET_BYTES} (10 MB)")
    config_size = len(run.config_content.encode())
    if config_size > MAX_CONFIG_BYTES:
        problems.add("config_content", f"is {config_size} bytes; the limit is {MAX_CONFIG_BYTES} (100 KB)")
    params_size = len(json.dumps(run.params, default=str).encode())
    if params_size > MAX_PARAMS_BYTES:
        problems.add("params", f"is {params_size} bytes as JSON; the limit is {MAX_PARAMS_BYTES} (256 KB)")
    for name in PLATFORM_PARAMS:
        if name in run.params:
            problems.add(f"params.{name}", "is set by the platform and cannot be given")
    for i, name in enumerate(run.source_ngs_runs):
        if not name.strip():
            problems.add(f"source_ngs_runs[{i}]", "is empty")
    if len(run.source_project) > 255:
        problems.add("source_project", "is longer than 255 characters")
    if len(run.request_id) > MAX_REQUEST_ID:
        problems.add("request_id", f"is longer than {MAX_REQUEST_ID} characters")
    check_name_fields(problems, name=run.name, description=run.description, labels=run.labels)
    problems.raise_if_any("invalid run")
