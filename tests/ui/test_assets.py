"""The UI's assets: every script and stylesheet a template names is served by the gateway, none is inline
(the CSP forbids it), and vendored libraries are the packages' own builds (digest in vendor/README.md)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from gateway.ui import STATIC_DIR

TEMPLATES = STATIC_DIR.parent / "templates"


def test_templates_name_only_served_assets_and_no_inline_code() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"{template.name}: an inline script"
        assert "<style" not in text and " style=" not in text, f"{template.name}: an inline style"
        for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', text):
            assert (STATIC_DIR / asset).is_file(), f"{template.name} names /static/{asset}, which does not exist"


def test_modules_import_only_served_modules() -> None:
    for module in STATIC_DIR.glob("*.js"):
        for target in re.findall(r'from "\./([^"]+)"', module.read_text()):
            assert (STATIC_DIR / target).is_file(), f"{module.name} imports ./{target}, which does not exist"


def test_vendored_files_match_their_recorded_digests() -> None:
    vendor = STATIC_DIR / "vendor"
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|", (vendor / "README.md").read_text(), re.M)
    assert rows, "vendor/README.md lists no files"
    listed = {name for name, _ in rows}
    present = {p.name for p in vendor.iterdir() if p.suffix in {".js", ".mjs"}}
    assert present == listed, "every vendored script is listed with its digest, and only those"
    for name, digest in rows:
        assert hashlib.sha256(Path(vendor / name).read_bytes()).hexdigest() == digest, name
        assert (vendor / name.replace(".mjs", ".LICENSE").replace(".js", ".LICENSE")).is_file(), f"{name}: no license"
