"""The input limits of DESIGN.md ("Limits from the spec") that more than one room checks.

Runs checks them on CreateRun before anything else, Pipelines again where it validates and renders, so a
caller of either gets the same answer.
"""

from __future__ import annotations

from typing import Any

MAX_SAMPLESHEET_BYTES = 10 * 1024 * 1024  # 10 MB
MAX_CONFIG_BYTES = 100 * 1024  # 100 KB: the user's own Nextflow config

# Objects and arrays, the value itself counted: far more than any pipeline's params or a user's preferences
# need. Protobuf decodes at most 100 nested messages and a JSON object is three (Struct, map entry, Value): a
# Run's params in a ListRunsResponse or WatchRunResponse fail past 33 levels of objects. 24 leaves room to
# wrap a Run. The gateway refuses deeper bodies (gateway.inputs), Runs deeper preferences.
MAX_JSON_DEPTH = 24


def json_depth(value: Any) -> int:
    """How many objects and arrays nest in a decoded JSON ``value`` (itself counted), without recursing and
    without looking past :data:`MAX_JSON_DEPTH` + 1 (deeper levels change no verdict)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
