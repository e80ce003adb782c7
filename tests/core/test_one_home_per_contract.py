"""Each shared contract is defined once, in ``arc_core/contracts/``: a second definition anywhere in the
hand-written code fails here (issue 10). The checks read the source with ``ast``, so comments and
docstrings may still speak of ``runs/{id}/...``."""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from arc_core.contracts import run_status

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("arc_core", "arc_platform", "gateway", "orchestrator", "services")
CONTRACTS = Path("arc_core/contracts")

Finding = tuple[int, str]
Check = Callable[[ast.AST], Iterator[Finding]]


def hand_written_files() -> list[Path]:
    """The hand-written Python files, relative to the repository root (no ``gen/``, no tests)."""
    files = [p.relative_to(ROOT) for d in CODE_DIRS if (ROOT / d).is_dir() for p in sorted((ROOT / d).rglob("*.py"))]
    return [p for p in files if "migrations" not in p.parts]


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the constants that are docstrings (a string statement: not code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.add(id(node.value))
    return found


def string_texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string literal and f-string in code (``{}`` for an f-string's replacement fields)."""
    skip = docstrings(tree)
    parts_of_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            parts_of_fstrings.update(id(v) for v in node.values)
            yield node.lineno, text
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in skip and id(node) not in parts_of_fstrings:
                yield node.lineno, node.value


# A key under the storage root, built by hand; URL paths (``/api/runs/{id}``) are not storage keys.
_LAYOUT_KEY = re.compile(r"(?<![/\w])runs/\{")


def run_layout_keys(tree: ast.AST) -> Iterator[Finding]:
    for line, text in string_texts(tree):
        if _LAYOUT_KEY.search(text) or text.startswith("runs/{"):
            yield line, f"storage key {text!r}: use arc_core.contracts.run_layout"


def _string_elements(node: ast.AST) -> list[str] | None:
    """The strings a set, tuple or list literal holds (or a dict literal's keys), if it holds only strings."""
    elements: list[ast.expr | None]
    if isinstance(node, ast.Set | ast.Tuple | ast.List):
        elements = list(node.elts)
    elif isinstance(node, ast.Dict):
        elements = list(node.keys)
    else:
        return None
    values = [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return values if elements and len(values) == len(elements) else None


def terminal_status_sets(tree: ast.AST) -> Iterator[Finding]:
    """A set, tuple, list or dict (by its keys) of exactly the terminal statuses, spelled as strings."""
    for node in ast.walk(tree):
        values = _string_elements(node)
        if values is not None and set(values) == run_status.TERMINAL:
            yield node.lineno, f"the terminal statuses {sorted(values)}: use arc_core.contracts.run_status"


def status_timestamp_maps(tree: ast.AST) -> Iterator[Finding]:
    """A dict from a status to its timestamp column (``{"running": "started_at", ...}``)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if (
                isinstance(key, ast.Constant)
                and key.value in run_status.STATUSES
                and isinstance(value, ast.Constant)
                and value.value == run_status.TIMESTAMP_COLUMN.get(key.value)
            ):
                yield node.lineno, f"a status -> timestamp map ({key.value!r}): use arc_core.contracts.run_status"
                break


def run_id_patterns(tree: ast.AST) -> Iterator[Finding]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in {"check_run_id", "new_run_id"}:
            yield node.lineno, f"{node.name}(): use arc_core.contracts.names"
    for line, text in string_texts(tree):
        if "run-[0-9a-f]" in text:
            yield line, f"a run-id pattern {text!r}: use arc_core.contracts.names"


def pipeline_name_and_version_patterns(tree: ast.AST) -> Iterator[Finding]:
    for line, text in string_texts(tree):
        if text.startswith("^[a-z0-9][a-z0-9_.-]") or text.startswith(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)"):
            yield line, f"a pipeline name or semver pattern {text!r}: use arc_core.contracts.names"


_LABEL_FUNCTION = re.compile(r"(saniti[sz]e|gcp)_?label|label_(value|key)$")


def label_sanitisers(tree: ast.AST) -> Iterator[Finding]:
    """A function that makes GCP labels, or the label character class."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _LABEL_FUNCTION.search(node.name):
            yield node.lineno, f"a label function {node.name}(): use arc_core.contracts.labels"
    for line, text in string_texts(tree):
        if "[^a-z0-9_-]" in text:
            yield line, f"the label character class {text!r}: use arc_core.contracts.labels"


def job_environment_names(tree: ast.AST) -> Iterator[Finding]:
    """The job environment spelled by hand: a dict or a lookup keyed by its variables."""
    names = {"RUN_ROOT", "CONFIG_GCS_PATH", "PARAMS_GCS_PATH", "ARC_RUN_TOKEN", "ARC_STATUS_ADDRESS"}
    for line, text in string_texts(tree):
        if text in names:
            yield line, f"the job variable {text!r}: use arc_core.contracts.job_environment"


def input_limits(tree: ast.AST) -> Iterator[Finding]:
    """The spec's samplesheet and config limits given a value of their own (an alias of the contract's is fine)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and not isinstance(node.value, ast.Name | ast.Attribute):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in {"MAX_SAMPLESHEET_BYTES", "MAX_USER_CONFIG_BYTES"}:
                    yield node.lineno, f"{target.id} = ...: use arc_core.contracts.limits"


CHECKS: dict[str, tuple[Check, str]] = {
    "run layout": (run_layout_keys, "run_layout.py"),
    "terminal statuses": (terminal_status_sets, "run_status.py"),
    "status timestamps": (status_timestamp_maps, "run_status.py"),
    "run ids": (run_id_patterns, "names.py"),
    "pipeline names": (pipeline_name_and_version_patterns, "names.py"),
    "labels": (label_sanitisers, "labels.py"),
    "job environment": (job_environment_names, "job_environment.py"),
    "input limits": (input_limits, "limits.py"),
}


def findings(check: Check, home: Path, files: list[Path]) -> list[str]:
    out = []
    for path in files:
        if path == home:
            continue
        tree = ast.parse((ROOT / path).read_text(), filename=str(path))
        out += [f"{path}:{line}: {message}" for line, message in check(tree)]
    return out


@pytest.mark.parametrize("contract", sorted(CHECKS))
def test_a_shared_contract_has_one_home(contract: str) -> None:
    check, home = CHECKS[contract]
    assert (ROOT / CONTRACTS / home).is_file()
    problems = findings(check, CONTRACTS / home, hand_written_files())
    assert not problems, "a second definition of a shared contract:\n" + "\n".join(problems)


# Each check finds a planted duplicate (so a check that silently matches nothing cannot pass).
PLANTED = {
    "run layout": 'key = f"runs/{run_id}/logs/nextflow.log"',
    "terminal statuses": 'DONE = frozenset({"completed", "failed", "cancelled"})',
    "status timestamps": 'AT = {"running": "started_at"}',
    "run ids": 'RUN = re.compile(r"^run-[0-9a-f]{8}$")',
    "pipeline names": 'NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*$")',
    "labels": """
        def sanitize_label(value):
            return re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]
    """,
    "job environment": 'env = {"RUN_ROOT": root}',
    "input limits": "MAX_SAMPLESHEET_BYTES = 10 * 1024 * 1024",
}


@pytest.mark.parametrize("contract", sorted(CHECKS))
def test_a_planted_second_definition_is_found(contract: str) -> None:
    check, _home = CHECKS[contract]
    assert list(check(ast.parse(textwrap.dedent(PLANTED[contract]))))


def test_a_url_path_is_not_a_storage_key() -> None:
    tree = ast.parse('url = f"/api/runs/{run_id}/files/{path}"\n"""runs/{run_id}/logs in a docstring"""')
    assert not list(run_layout_keys(tree))
