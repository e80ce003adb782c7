"""The rooms import downwards only (read from the source with ``ast``, lazy imports inside functions too).

``arc_core`` is the plumbing and imports nothing above it; a service never imports another service, the
gateway or the start-up package (services talk over gRPC); the gateway reaches the services only through
their gRPC stubs; the orchestrator (its own image) needs none of them. Only ``arc_platform`` knows them all.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What each room may not import (a service's siblings are added below); arc_platform may import them all.
FORBIDDEN: dict[str, set[str]] = {
    "arc_core": {"arc_platform", "services", "gateway", "orchestrator"},
    "services": {"arc_platform", "gateway", "orchestrator"},
    "gateway": {"arc_platform", "services", "orchestrator"},
    "orchestrator": {"arc_platform", "services", "gateway"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> list[str]:
    """The package a file's relative imports start from."""
    parts = module_name(path).split(".")
    return parts if path.name == "__init__.py" else parts[:-1]


def imports(source: str, package: list[str]) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in ``source``, relative ones resolved against ``package``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])


def room(module: str) -> str:
    """``services.runs`` for anything under a service's folder, else the top-level package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "services" and len(parts) > 1 else parts[0]


def forbidden_for(importer: str) -> set[str]:
    top = importer.split(".")[0]
    rules = set(FORBIDDEN.get(top, set()))
    if top == "services" and importer != "services":
        rules |= {f"services.{d.name}" for d in (ROOT / "services").iterdir() if d.is_dir()} - {importer}
    return rules


def violations(top: str) -> list[str]:
    found = []
    for path in sorted((ROOT / top).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        importer = room(module_name(path))
        banned = forbidden_for(importer)
        for line, module in imports(path.read_text(), package_of(path)):
            target = room(module)
            if target in banned or target.split(".")[0] in banned:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module} ({importer} may not import {target})")
    return found


@pytest.mark.parametrize("top", list(FORBIDDEN))
def test_rooms_import_downwards_only(top: str) -> None:
    assert violations(top) == []


def test_the_check_sees_an_upward_import() -> None:
    """Plain, from-, relative and lazy (in-function) imports alike; a service's own folder is allowed."""
    source = "import gateway.main\nfrom services.runs import server\n\ndef f():\n    from .x import y\n"
    assert sorted(imports(source, ["arc_core"])) == [(1, "gateway.main"), (2, "services.runs"), (5, "arc_core.x")]
    assert {"gateway", "services", "arc_platform"} <= forbidden_for("arc_core")
    assert "services.logs" in forbidden_for("services.runs")
    assert "services.runs" not in forbidden_for("services.runs")
