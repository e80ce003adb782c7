"""Input files the tests' samplesheets name: runs take files only from allowed places, and only ones that exist.

``TEST_INPUTS`` (``tests/data/inputs``) holds empty placeholder FASTQ files, named by absolute path in module
constants; the test platform allows that folder besides the embedded defaults (``tests/support/platform.py``).
"""

from __future__ import annotations

from pathlib import Path

from arc_core.settings import normalize_input_location

TEST_INPUTS = Path(__file__).resolve().parents[1] / "data" / "inputs"


def placeholder_input(name: str) -> str:
    """The absolute path of a placeholder input file (it must exist in ``tests/data/inputs``)."""
    path = TEST_INPUTS / name
    if not path.is_file():
        raise FileNotFoundError(f"no placeholder input {path}: add an empty file there")
    return str(path)


def with_test_inputs(locations: tuple[str, ...]) -> tuple[str, ...]:
    """``locations`` plus the placeholder folder."""
    return (*locations, normalize_input_location(str(TEST_INPUTS)))
