"""How the pages show times and durations (the scripts in ``static/`` format live values the same way)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arc_core.contracts.run_status import END_TIMESTAMP


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def timestamp(value: str | None) -> str:
    """``2026-12-03 13:40:01 UTC``, or an em dash when unset."""
    moment = _parse(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 07s``, ``12s``; an em dash when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def run_duration(run: dict[str, Any]) -> str:
    """From start (or submission) to the end, or to now while the run goes; ``—`` before it starts."""
    start = _parse(run.get("started_at")) or _parse(run.get("submitted_at"))
    if start is None:
        return "—"
    end_field = END_TIMESTAMP.get(run.get("status") or "")
    end = _parse(run.get(end_field)) if end_field else None
    return duration(((end or datetime.now(UTC)) - start).total_seconds())
