"""The catalog's nf-core/scrnaseq schemas are nf-core/scrnaseq's own files at each release tag, byte for byte.

Each ``versions/<v>/SOURCE.yaml`` records the upstream tag, repository, the tag's commit, and per file the
upstream path, git blob id and sha256 of the blob fetched (``git show <tag>:<path>`` from a mirror of
https://github.com/nf-core/scrnaseq). Here both digests are recomputed from the shipped bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from services.pipelines.catalog import DEFAULT_CATALOG_DIR, Catalog
from services.pipelines.validation import check_params

SCRNASEQ_DIR = DEFAULT_CATALOG_DIR / "nf-core-scrnaseq"
VERSIONS = ("2.7.1", "2.6.0", "2.5.1")
# The tags' commits in nf-core/scrnaseq (git rev-parse <tag>^{commit}).
TAG_COMMITS = {
    "2.7.1": "4171377f40d629d43d4ca71654a7ea06e5619a09",
    "2.6.0": "c5a64459fec1506304f7064639f3f8e12d971269",
    "2.5.1": "90cb6a48155248286c85395c53a201c3a31b2258",
}
PARAMS = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object id


def _source(version: str) -> dict:
    return yaml.safe_load((SCRNASEQ_DIR / "versions" / version / "SOURCE.yaml").read_text())


@pytest.mark.parametrize("version", VERSIONS)
def test_schemas_are_the_upstream_files(version: str) -> None:
    source = _source(version)
    assert source["tag"] == version
    assert source["repository"] == "https://github.com/nf-core/scrnaseq"
    assert source["commit"] == TAG_COMMITS[version]
    assert set(source["files"]) == {"nextflow_schema.json", "schema_input.json"}
    assert source["files"]["schema_input.json"]["upstream_path"] == "assets/schema_input.json"
    assert source["files"]["nextflow_schema.json"]["upstream_path"] == "nextflow_schema.json"
    for name, recorded in source["files"].items():
        data = Path(SCRNASEQ_DIR / "versions" / version / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == recorded["sha256"], f"{version}/{name} differs from upstream"
        assert _git_blob_id(data) == recorded["blob"], f"{version}/{name} is not the upstream blob"


def test_every_shipped_version_has_a_source() -> None:
    shipped = {p.name for p in (SCRNASEQ_DIR / "versions").iterdir() if p.is_dir()}
    assert shipped == set(VERSIONS)
    assert all((SCRNASEQ_DIR / "versions" / v / "SOURCE.yaml").is_file() for v in shipped)


# ------------------------------------------------------------- params the hand-written schemas got wrong


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.mark.parametrize("version", VERSIONS)
def test_star_ignore_sjdbgtf_is_a_string(catalog: Catalog, version: str) -> None:
    schema = catalog.schema("nf-core/scrnaseq", version)
    assert schema.param("star_ignore_sjdbgtf").type == "string"
    assert check_params(schema, {**PARAMS, "star_ignore_sjdbgtf": "true"}) == []
    assert [v.field for v in check_params(schema, {**PARAMS, "star_ignore_sjdbgtf": True})] == [
        "params.star_ignore_sjdbgtf"
    ]


def test_skip_cellranger_renaming_on_2_7_1(catalog: Catalog) -> None:
    params = {**PARAMS, "aligner": "cellranger", "skip_cellranger_renaming": True}
    assert check_params(catalog.schema("nf-core/scrnaseq", "2.7.1"), params) == []
    assert [v.field for v in check_params(catalog.schema("nf-core/scrnaseq", "2.6.0"), params)] == [
        "params.skip_cellranger_renaming"
    ]


def test_kallisto_params_of_2_5_1(catalog: Catalog) -> None:
    v251 = catalog.schema("nf-core/scrnaseq", "2.5.1")
    params = {
        **PARAMS,
        "aligner": "kallisto",
        "kallisto_index": "gs://b/kb.idx",
        "kallisto_gene_map": "gs://b/t2g.txt",
        "kb_workflow": "nucleus",
    }
    assert check_params(v251, params) == []
    # kb_t1c / kb_t2c / kb_filter arrived in 2.6.0.
    later = {**PARAMS, "aligner": "kallisto", "kb_t1c": "t1c.txt", "kb_t2c": "t2c.txt", "kb_filter": True}
    assert sorted(v.field for v in check_params(v251, later)) == ["params.kb_filter", "params.kb_t1c", "params.kb_t2c"]
    assert check_params(catalog.schema("nf-core/scrnaseq", "2.6.0"), later) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_params_are_refused(catalog: Catalog, version: str) -> None:
    found = check_params(catalog.schema("nf-core/scrnaseq", version), {**PARAMS, "no_such_param": 1})
    assert [v.field for v in found] == ["params.no_such_param"]
    assert "unknown parameter" in found[0].description


@pytest.mark.parametrize("version", VERSIONS)
def test_resource_cap_params_exist_upstream(catalog: Catalog, version: str) -> None:
    schema = catalog.schema("nf-core/scrnaseq", version)
    assert schema.param("max_cpus").type == "integer"
    assert schema.param("max_memory").type == "string" and schema.param("max_time").type == "string"
