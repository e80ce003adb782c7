"""UpdateRun's rules: which fields a caller may change (name, description, labels), the values stored for
them, and the history reason that says what changed."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from arc_core.errors import FieldViolation, InvalidArgument, ViolationCollector
from services.runs.inputs import check_name_fields, default_name
from services.runs.model import Run

UPDATE_PATHS = ("name", "description", "labels")
"""The update_mask paths UpdateRun takes; an empty mask means all of them (AIP-134)."""
_SHOWN_CHARS = 60  # of a name or description quoted in a history reason


@dataclass(frozen=True)
class RunUpdate:
    """What the caller sent: the fields to change (``paths``) and their new values."""

    paths: tuple[str, ...]
    name: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def update_paths(mask: Collection[str]) -> tuple[str, ...]:
    """The fields an update_mask names, in a fixed order; empty = all. Unknown paths are INVALID_ARGUMENT."""
    unknown = [path for path in mask if path not in UPDATE_PATHS]
    if unknown:
        raise InvalidArgument(
            "invalid update_mask",
            [FieldViolation("update_mask", f"cannot update {p!r}; use {', '.join(UPDATE_PATHS)}") for p in unknown],
        )
    return tuple(p for p in UPDATE_PATHS if not mask or p in mask)


def check_update(update: RunUpdate) -> None:
    """The same rules as CreateRun's, for the fields being changed only."""
    problems = ViolationCollector()
    check_name_fields(
        problems,
        name=update.name if "name" in update.paths else "",
        description=update.description if "description" in update.paths else "",
        labels=update.labels if "labels" in update.paths else {},
    )
    problems.raise_if_any("invalid run update")


def stored_values(run: Run, update: RunUpdate) -> dict[str, object]:
    """The column values to store: an empty name is the default name again, an empty description none."""
    values: dict[str, object] = {}
    if "name" in update.paths:
        values["name"] = update.name.strip() or default_name(run.pipeline, run.sample_count, run.source_project or "")
    if "description" in update.paths:
        values["description"] = update.description or None
    if "labels" in update.paths:
        values["labels"] = dict(update.labels)
    return values


def update_reason(actor: str, changes: Mapping[str, tuple[object, object]]) -> str:
    """``renamed "a" → "b"; labels team=onc → team=onc, tier=gold by x@example.com``: what changed."""
    parts: list[str] = []
    for name, (old, new) in changes.items():
        if name == "name":
            parts.append(f"renamed {_quoted(old)} → {_quoted(new)}")
        elif name == "description":
            parts.append("description cleared" if not new else f"description set to {_quoted(new)}")
        else:
            parts.append(f"labels {_labels_text(old)} → {_labels_text(new)}")
    return f"{'; '.join(parts)} by {actor}"


def _quoted(value: object) -> str:
    text = str(value or "")
    return '"' + (text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…") + '"'


def _labels_text(labels: object) -> str:
    items = sorted(dict(labels).items()) if isinstance(labels, Mapping) else []
    return ", ".join(f"{k}={v}" for k, v in items) or "(none)"
