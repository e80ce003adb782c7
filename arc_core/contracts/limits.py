"""The input limits of DESIGN.md ("Limits from the spec") that more than one room checks.

Runs checks them on CreateRun before anything else, Pipelines again where it validates and renders, so a
caller of either gets the same answer.
"""

from __future__ import annotations

MAX_SAMPLESHEET_BYTES = 10 * 1024 * 1024  # 10 MB
MAX_CONFIG_BYTES = 100 * 1024  # 100 KB: the user's own Nextflow config
