"""Task counts from Nextflow's execution trace (tab separated, a header row, one row per finished task)."""

from __future__ import annotations

import csv
import io

# trace ``status`` -> metrics key
_COUNTED = {
    "COMPLETED": "tasks_succeeded",
    "FAILED": "tasks_failed",
    "CACHED": "tasks_cached",
    "ABORTED": "tasks_aborted",
}


def trace_counts(trace_text: str) -> dict[str, int]:
    """``tasks_total`` and one count per status; empty when there is no trace (Nextflow never started)."""
    if not trace_text.strip():
        return {}
    rows = list(csv.DictReader(io.StringIO(trace_text), delimiter="\t"))
    counts = dict.fromkeys(_COUNTED.values(), 0)
    counts["tasks_total"] = len(rows)
    for row in rows:
        key = _COUNTED.get((row.get("status") or "").strip().upper())
        if key is not None:
            counts[key] += 1
    return counts
