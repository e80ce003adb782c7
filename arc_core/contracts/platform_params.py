"""The pipeline params the platform fills, and what it fills them with.

A catalog manifest names them (``platform_params: {input: samplesheet, outdir: results}``); users never set
them. Pipelines returns a pipeline's own names with its valid inputs (``ValidateRunInputsResponse``'s
``platform_params``) and Runs fills exactly those. :data:`DEFAULT_PLATFORM_PARAMS` are the names nf-core
pipelines use (every catalog pipeline today); Runs refuses them in a request before asking Pipelines.
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
