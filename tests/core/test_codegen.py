"""The committed generated code must match the protos (regenerate with `make proto`)."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.name != ".stamp" and "__pycache__" not in p.parts
    }


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_protos.py"), str(out)], check=True)
    committed, fresh = _files(ROOT / "gen"), _files(out)
    assert committed == fresh, f"generated files differ: {sorted(committed ^ fresh)}; run `make proto`"
    stale = [name for name in sorted(fresh) if not filecmp.cmp(ROOT / "gen" / name, out / name, shallow=False)]
    assert not stale, f"stale generated code: {stale}; run `make proto`"
