"""Semantic versions (semver.org 2.0.0): the catalog's version names and their order."""

from __future__ import annotations

from typing import Any

from arc_core.contracts.names import SEMVER_RE


def is_semver(version: str) -> bool:
    """True when ``version`` is a semantic version (``MAJOR.MINOR.PATCH[-pre][+build]``)."""
    return bool(SEMVER_RE.match(version))


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key ordering semantic versions by precedence (a pre-release sorts before its release)."""
    m = SEMVER_RE.match(version)
    if not m:
        raise ValueError(f"not a semantic version: {version!r}")
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)
