"""Generate the Python gRPC code (+ .pyi stubs) from protos/ into gen/ (or a given directory).

Generated code is never edited by hand; tests regenerate into a temporary directory and compare,
so a proto change without regeneration fails CI.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"


def generate(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Namespace markers so `arc.runs.v1` imports as a regular package.
    for package_dir in {p.parent for p in out_dir.rglob("*_pb2.py")}:
        d = package_dir
        while d != out_dir:
            (d / "__init__.py").touch()
            d = d.parent


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "gen")
