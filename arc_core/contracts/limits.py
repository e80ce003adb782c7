"""The input limits of DESIGN.md ("Limits from the spec") that more than one room checks.

Runs checks them on CreateRun before anything else, Pipelines again where it validates and renders, so a
caller of either gets the same answer.
"""

from __future__ import annotations

MAX_SAMPLESHEET_BYTES = 10 * 1024 * 1024  # 10 MB
MAX_CONFIG_BYTES = 100 * 1024  # 100 KB: the user's own Nextflow config

# Objects and arrays, the value itself counted: far more than any pipeline's params or a user's preferences
# need. Protobuf decodes at most 100 nested messages and a JSON object is three (Struct, map entry, Value): a
# Run's params in a ListRunsResponse or WatchRunResponse fail past 33 levels of objects. 24 leaves room to
# wrap a Run. The gateway refuses deeper bodies (gateway.inputs), Runs deeper preferences.
MAX_JSON_DEPTH = 24
