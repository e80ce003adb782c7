"""Every service has the same shape: ``server.py`` (wiring, ``build``), ``servicer.py`` (thin gRPC),
``service.py`` (the domain, which never imports ``grpc``), and start-up lists each one explicitly."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from arc_platform.targets import SERVICES

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DIRS = sorted(d.name for d in (ROOT / "services").iterdir() if (d / "server.py").exists())


def test_start_up_lists_every_service_folder() -> None:
    assert sorted(SERVICES) == SERVICE_DIRS
    for name, build in SERVICES.items():
        assert (build.__module__, build.__name__) == (f"services.{name}.server", "build")


@pytest.mark.parametrize("name", SERVICE_DIRS)
def test_service_folder_shape(name: str) -> None:
    folder = ROOT / "services" / name
    assert {"__init__.py", "server.py", "servicer.py", "service.py"} <= {p.name for p in folder.iterdir()}
    tree = ast.parse((folder / "service.py").read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in modules if m.split(".")[0] == "grpc"}, "the domain module must not import grpc"
