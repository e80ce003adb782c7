"""The platform's version: the one home every room reads it from (``pyproject.toml`` repeats it for
packaging; ``tests/runs/test_me_system.py`` checks the two agree)."""

from __future__ import annotations

VERSION = "0.1.0"
