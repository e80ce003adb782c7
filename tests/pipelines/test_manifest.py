"""The manifest model: what a ``manifest.yaml`` may say, and how a broken one is reported (file, field, what)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.pipelines.catalog import DEFAULT_CATALOG_DIR
from services.pipelines.manifest import Manifest, read_manifest

MINIMAL: dict[str, Any] = {
    "name": "acme/tool",
    "display_name": "Tool",
    "description": "a tool",
    "repository": "https://github.com/acme/tool",
    "default_version": "1.0.0",
    "versions": ["1.0.0"],
}


def _problems(tmp_path: Path, data: Any) -> list[str]:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data))
    problems: list[str] = []
    assert read_manifest(path, problems) is None
    assert problems and all(p.startswith(f"{path}: ") for p in problems)
    return [p.removeprefix(f"{path}: ") for p in problems]


@pytest.mark.parametrize("manifest", sorted(DEFAULT_CATALOG_DIR.glob("*/manifest.yaml")), ids=lambda p: p.parent.name)
def test_shipped_manifests_are_valid(manifest: Path) -> None:
    problems: list[str] = []
    assert read_manifest(manifest, problems) is not None, problems


def test_defaults_and_bare_versions(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "versions": ["1.0.0", {"version": "0.9.0", "released": "2023-01-02"}]}))
    m = read_manifest(path, [])
    assert isinstance(m, Manifest)
    assert [(v.version, v.released, v.resource_caps) for v in m.versions] == [
        ("1.0.0", "", None),
        ("0.9.0", "2023-01-02", None),
    ]
    assert m.homepage == "" and m.platform_params == {} and m.unknown_params == "reject"
    assert m.resource_caps == "resource_limits"
    assert m.samplesheet.sample_column == "sample" and not m.samplesheet.unique_samples


def test_yaml_dates_are_read_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(MINIMAL).replace("- 1.0.0", "- version: 1.0.0\n  released: 2024-08-13"))
    m = read_manifest(path, [])
    assert m is not None and m.versions[0].released == "2024-08-13"


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"name": "Acme/Tool"}, "name", "owner/name"),
        ({"name": "hello"}, "name", "owner/name"),
        ({"display_name": ""}, "display_name", "at least 1 character"),
        ({"repository": "ftp://x"}, "repository", "pattern"),
        ({"homepage": "not a url"}, "homepage", "pattern"),
        ({"default_version": "1.0"}, "default_version", "semantic version"),
        ({"versions": []}, "versions", "at least 1 item"),
        ({"versions": ["1.0.0", {"version": "2.0"}]}, "versions.1.version", "semantic version"),
        ({"versions": [{"version": "1.0.0", "colour": "blue"}]}, "versions.0.colour", "not permitted"),
        ({"versions": [{"version": "1.0.0", "resource_caps": "lots"}]}, "versions.0.resource_caps", "params"),
        ({"platform_params": {"input": "work"}}, "platform_params.input", "samplesheet, results"),
        ({"unknown_params": "warn"}, "unknown_params", "'reject' or 'ignore'"),
        ({"forbidden_params": {"custom_config_base": ""}}, "forbidden_params.custom_config_base", "at least 1"),
        ({"path_params": {"fasta": "url"}}, "path_params.fasta", "'file', 'directory' or 'path'"),
        ({"samplesheet": {"unique_samples": True}}, "samplesheet.sample_column", "required"),
        ({"samplesheet": {"sample_column": "s", "unique_samples": "yes"}}, "samplesheet.unique_samples", "boolean"),
        ({"samplesheet": {"sample_column": "s", "paired_reads": ["r1"]}}, "samplesheet.paired_reads", "at least 2"),
        ({"colour": "blue"}, "colour", "not permitted"),
    ],
)
def test_each_problem_names_its_field(tmp_path: Path, change: dict[str, Any], field: str, says: str) -> None:
    problems = _problems(tmp_path, {**MINIMAL, **change})
    assert len(problems) == 1, problems
    where, what = problems[0].split(": ", 1)
    assert where == field and says in what


def test_missing_fields_and_a_non_mapping(tmp_path: Path) -> None:
    problems = _problems(tmp_path, {"name": "acme/tool"})
    assert [p.split(":")[0] for p in problems] == [
        "default_version",
        "description",
        "display_name",
        "repository",
        "versions",
    ]
    assert all(p.endswith("Field required") for p in problems)
    assert _problems(tmp_path, ["not", "a", "mapping"])[0].startswith("(top): ")


def test_unreadable_yaml(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text("name: [unclosed\n")
    problems: list[str] = []
    assert read_manifest(path, problems) is None
    assert problems[0].startswith(f"{path}: cannot be read")
