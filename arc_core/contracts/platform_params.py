"""The pipeline params the platform fills, and what it fills them with.

A catalog manifest names them (``platform_params: {input: samplesheet, outdir: results}``); users never set
them. Runs does not yet receive a pipeline's own names from Pipelines (that needs a field on
``ValidateRunInputsResponse``), so it fills :data:`DEFAULT_PLATFORM_PARAMS`, the names every catalog
pipeline uses today.
"""

from __future__ import annotations

from collections.abc import Mapping

from arc_core.contracts import run_layout

SAMPLESHEET, RESULTS = "samplesheet", "results"
VALUE_KINDS = (SAMPLESHEET, RESULTS)
"""What may fill a platform param: the run's stored samplesheet, or its results folder."""

DEFAULT_PLATFORM_PARAMS: Mapping[str, str] = {"input": SAMPLESHEET, "outdir": RESULTS}


def value_key(run_id: str, kind: str) -> str:
    """The storage key a platform param of ``kind`` points at."""
    if kind == SAMPLESHEET:
        return run_layout.inputs_key(run_id, run_layout.SAMPLESHEET)
    if kind == RESULTS:
        return run_layout.results_prefix(run_id)
    raise ValueError(f"unknown platform param kind {kind!r}; expected one of {', '.join(VALUE_KINDS)}")
