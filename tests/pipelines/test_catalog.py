"""The pipeline catalog: loading files, lookups, NOT_FOUND with the versions, schemas per version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from arc_core.errors import InvalidArgument, NotFound
from services.pipelines.catalog import DEFAULT_CATALOG_DIR, Catalog, CatalogError
from services.pipelines.nf_schema import build_params_schema
from services.pipelines.semver import is_semver, semver_key

SCRNASEQ = "nf-core/scrnaseq"


def test_shipped_catalog_lists_both_pipelines(catalog: Catalog) -> None:
    names = [p.name for p in catalog.list_pipelines()]
    assert names == ["demo/hello", SCRNASEQ]


def test_scrnaseq_manifest(catalog: Catalog) -> None:
    p = catalog.get(SCRNASEQ)
    assert p.display_name == "nf-core/scrnaseq"
    assert p.repository_url == "https://github.com/nf-core/scrnaseq"
    assert p.repository == p.repository_url
    assert p.description
    assert p.version_names == ("2.7.1", "2.6.0", "2.5.1")
    assert p.default_version == "2.7.1"
    assert [v.is_default for v in p.versions] == [True, False, False]
    assert p.versions[0].released == "2024-08-13"
    assert dict(p.platform_params) == {"input": "samplesheet", "outdir": "results"}


def test_lookup_is_case_insensitive(catalog: Catalog) -> None:
    assert catalog.get("NF-CORE/scRNAseq").name == SCRNASEQ


@pytest.mark.parametrize("version", ["", None, "2.7.1"])
def test_default_version(catalog: Catalog, version: str | None) -> None:
    schema = catalog.schema(SCRNASEQ, version)
    assert schema.version == "2.7.1"
    assert schema.is_default


def test_unknown_pipeline_is_not_found_with_the_pipelines_that_exist(catalog: Catalog) -> None:
    with pytest.raises(NotFound) as exc:
        catalog.schema("nf-core/rnaseq", "3.14.0")
    assert "nf-core/rnaseq" in exc.value.message
    assert exc.value.reason == "PIPELINE_NOT_FOUND"
    assert exc.value.metadata["available_pipelines"] == "demo/hello, nf-core/scrnaseq"
    with pytest.raises(NotFound):
        catalog.get("")


def test_unknown_version_is_not_found_listing_the_versions(catalog: Catalog) -> None:
    with pytest.raises(NotFound) as exc:
        catalog.schema(SCRNASEQ, "2.4.1")
    err = exc.value
    assert err.reason == "PIPELINE_VERSION_NOT_FOUND"
    assert "2.7.1, 2.6.0, 2.5.1" in err.message
    assert err.metadata == {
        "pipeline": SCRNASEQ,
        "version": "2.4.1",
        "available_versions": "2.7.1, 2.6.0, 2.5.1",
    }


@pytest.mark.parametrize("version", ["latest", "2.7", "v2.7.1", "2.7.1.0"])
def test_non_semver_version_is_invalid_argument(catalog: Catalog, version: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        catalog.schema(SCRNASEQ, version)
    assert exc.value.violations[0].field == "pipeline_version"


def test_semver_helpers() -> None:
    assert is_semver("2.7.1") and is_semver("1.0.0-rc.1+build.5")
    assert not is_semver("2.7") and not is_semver("02.7.1") and not is_semver("v1.0.0")
    ordered = sorted(["2.10.0", "2.7.1", "2.7.1-rc.1", "2.7.1-alpha", "10.0.0", "2.6.0"], key=semver_key)
    assert ordered == ["2.6.0", "2.7.1-alpha", "2.7.1-rc.1", "2.7.1", "2.10.0", "10.0.0"]


# ------------------------------------------------------------------------------------ schema contents


def test_params_are_grouped_as_nf_core_groups_them(catalog: Catalog) -> None:
    schema = catalog.schema(SCRNASEQ, "2.7.1")
    ids = [g.id for g in schema.param_groups]
    assert ids[:3] == ["input_output_options", "mandatory_arguments", "skip_tools"]
    assert "generic_options" in ids and "institutional_config_options" in ids
    io = schema.param_groups[0]
    assert io.title == "Input/output options"
    assert io.description.startswith("Define where the pipeline")
    assert io.fa_icon == "fas fa-terminal"
    # Platform-filled params are listed but marked: never asked from the user, not required of them.
    managed = [p for p in io.params if p.platform_managed]
    assert [p.name for p in managed] == ["input", "outdir"]
    assert not any(p.required for p in managed)
    assert schema.param("input").platform_managed and "input" in schema.known_param_names
    assert "input" not in [p.name for p in schema.user_params]
    assert not schema.param("aligner").platform_managed


def test_param_details(scrnaseq) -> None:
    aligner = scrnaseq.param("aligner")
    assert aligner.type == "string"
    assert aligner.default == "alevin"
    assert set(aligner.enum) == {
        "alevin",
        "kallisto",
        "star",
        "cellranger",
        "cellrangerarc",
        "cellrangermulti",
        "universc",
    }
    assert aligner.description and aligner.help_text
    assert not aligner.required
    protocol = scrnaseq.param("protocol")
    # Upstream nf-core/scrnaseq marks neither protocol nor genome/fasta as required.
    assert not protocol.required and protocol.default == "auto"
    fasta = scrnaseq.param("fasta")
    assert fasta.pattern == "^\\S+\\.fn?a(sta)?(\\.gz)?$"
    assert scrnaseq.param("igenomes_base").hidden
    assert scrnaseq.param("simpleaf_rlen").type == "integer" and scrnaseq.param("simpleaf_rlen").default == 91
    assert scrnaseq.required_any_of == ()
    assert scrnaseq.param("star_ignore_sjdbgtf").type == "string"


def test_samplesheet_columns_with_their_rules(scrnaseq) -> None:
    sheet = scrnaseq.samplesheet
    cols = {c.name: c for c in sheet.columns}
    assert list(cols) == [
        "sample",
        "fastq_1",
        "fastq_2",
        "expected_cells",
        "seq_center",
        "sample_type",
        "feature_type",
    ]
    assert sheet.required_columns == ("sample", "fastq_1", "fastq_2")
    assert cols["sample"].pattern == "^\\S+$"
    assert cols["sample"].error_message == "Sample name must be provided and cannot contain spaces"
    assert cols["sample"].meta == ("id",)
    assert cols["fastq_1"].pattern == "^\\S+\\.f(ast)?q\\.gz$"
    assert cols["expected_cells"].type == "integer" and not cols["expected_cells"].required
    assert cols["sample_type"].enum == ("atac", "gex")
    assert not any(c.unique for c in sheet.columns)
    assert sheet.sample_column == "sample"
    assert sheet.unique_samples is False
    assert sheet.paired_reads == ("fastq_1", "fastq_2")


def test_the_three_versions_differ_where_the_pipeline_did(catalog: Catalog) -> None:
    v271, v260, v251 = (catalog.schema(SCRNASEQ, v) for v in ("2.7.1", "2.6.0", "2.5.1"))
    # cellranger multi arrived in 2.7.0; cellranger-arc (2.5.0) and universc are in all three.
    assert "cellrangermulti" in v271.param("aligner").enum
    assert "cellrangermulti" not in v260.param("aligner").enum
    assert "cellrangermulti" not in v251.param("aligner").enum
    for s in (v271, v260, v251):
        assert {"alevin", "kallisto", "star", "cellranger", "cellrangerarc", "universc"} <= set(s.param("aligner").enum)
    assert v271.param("gex_frna_probe_set") is not None and v260.param("gex_frna_probe_set") is None
    assert v271.samplesheet.column("feature_type") is not None
    assert v260.samplesheet.column("feature_type") is None
    # kallisto|bustools 0.28 (2.6.0) replaced the `nucleus` workflow with `nac`; emptydrops arrived in 2.6.0.
    assert "nac" in v260.param("kb_workflow").enum and "nucleus" not in v260.param("kb_workflow").enum
    assert "nucleus" in v251.param("kb_workflow").enum and "nac" not in v251.param("kb_workflow").enum
    assert v260.param("skip_emptydrops") is not None and v251.param("skip_emptydrops") is None
    assert "10XV4" in v271.param("protocol").description and "10XV4" not in v260.param("protocol").description


def test_demo_pipeline_comes_from_files_with_its_declared_draft(catalog: Catalog) -> None:
    demo = catalog.schema("demo/hello")
    assert demo.version == "1.0.0"
    assert type(demo.params_validator).__name__ == "Draft202012Validator"
    assert type(catalog.schema(SCRNASEQ).params_validator).__name__ == "Draft7Validator"
    assert [g.title for g in demo.param_groups] == ["Input/output options", "Greeting options"]
    assert [p.name for p in demo.user_params][:2] == ["greeting", "times"]
    assert demo.param("greeting").required
    assert demo.samplesheet.column("sample").unique
    assert demo.samplesheet.unique_samples


def test_shipped_files_are_nf_core_shaped() -> None:
    for path in DEFAULT_CATALOG_DIR.glob("nf-core-scrnaseq/versions/*/nextflow_schema.json"):
        raw = json.loads(path.read_text())
        assert raw["$schema"] == "http://json-schema.org/draft-07/schema"
        assert [r["$ref"].split("/")[-1] for r in raw["allOf"]] == list(raw["definitions"])
        for group in raw["definitions"].values():
            assert group["type"] == "object" and group["title"] and "properties" in group
    for path in DEFAULT_CATALOG_DIR.glob("nf-core-scrnaseq/versions/*/schema_input.json"):
        raw = json.loads(path.read_text())
        assert raw["type"] == "array" and raw["items"]["required"][:2] == ["sample", "fastq_1"]


def test_combined_params_schema_drops_platform_params_from_required(scrnaseq) -> None:
    combined = build_params_schema(scrnaseq.params_schema, ["input", "outdir"])
    required = combined.get("required", [])
    assert "input" not in required and "outdir" not in required
    assert "aligner" in combined["properties"] and "input" in combined["properties"]


# ----------------------------------------------------------------------------- adding pipelines = files


def test_a_copied_pipeline_folder_appears(tmp_catalog: Path, copy_pipeline) -> None:
    copy_pipeline("demo-hello", tmp_catalog)
    assert [p.name for p in Catalog.load(tmp_catalog).list_pipelines()] == ["demo/hello"]
    # Same folder under another name is another pipeline: only the manifest changes.
    other = copy_pipeline("demo-hello", tmp_catalog / "sub")
    shutil.move(other, tmp_catalog / "demo-hello-2")
    shutil.rmtree(tmp_catalog / "sub")
    manifest = tmp_catalog / "demo-hello-2" / "manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["name"] = "demo/hello-again"
    manifest.write_text(yaml.safe_dump(data))
    assert [p.name for p in Catalog.load(tmp_catalog).list_pipelines()] == ["demo/hello", "demo/hello-again"]


def test_a_new_version_is_files_only(tmp_catalog: Path, copy_pipeline) -> None:
    folder = copy_pipeline("nf-core-scrnaseq", tmp_catalog)
    shutil.copytree(folder / "versions" / "2.7.1", folder / "versions" / "2.8.0")
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    manifest["versions"].insert(0, {"version": "2.8.0", "released": "2025-01-01"})
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    cat = Catalog.load(tmp_catalog)
    assert cat.get(SCRNASEQ).version_names == ("2.8.0", "2.7.1", "2.6.0", "2.5.1")
    assert cat.schema(SCRNASEQ, "2.8.0").version == "2.8.0"
    assert cat.schema(SCRNASEQ).version == "2.7.1"  # the default did not move


def test_broken_catalog_reports_every_problem(tmp_catalog: Path, copy_pipeline, pipeline_files) -> None:
    # 1. default_version not listed, 2. orphan version folder, 3. missing schema file.
    folder = copy_pipeline("demo-hello", tmp_catalog)
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    manifest["default_version"] = "9.9.9"
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    (folder / "versions" / "0.9.0").mkdir()
    (folder / "versions" / "1.0.0" / "schema_input.json").unlink()
    # 4. bad semver + unknown manifest key.
    bad = pipeline_files.write(
        tmp_catalog,
        "bad",
        name="x/bad",
        versions={"1.0.0": (pipeline_files.params_schema(), pipeline_files.input_schema())},
        manifest_extra={"colour": "blue"},
    )
    m = yaml.safe_load((bad / "manifest.yaml").read_text())
    m["versions"] = [{"version": "1.0"}]
    (bad / "manifest.yaml").write_text(yaml.safe_dump(m))
    # 5. unknown $schema draft, 6. platform param missing from the schema.
    params = pipeline_files.params_schema()
    params["$schema"] = "http://example.com/not-a-draft"
    pipeline_files.write(
        tmp_catalog, "drafty", name="x/drafty", versions={"1.0.0": (params, pipeline_files.input_schema())}
    )
    params = pipeline_files.params_schema()
    del params["definitions"]["input_output_options"]["properties"]["outdir"]
    params["definitions"]["input_output_options"]["required"] = ["input"]
    pipeline_files.write(
        tmp_catalog, "noout", name="x/noout", versions={"1.0.0": (params, pipeline_files.input_schema())}
    )
    # 7. a folder without a manifest.
    (tmp_catalog / "stray").mkdir()

    with pytest.raises(CatalogError) as exc:
        Catalog.load(tmp_catalog)
    text = "\n".join(exc.value.problems)
    assert "default_version 9.9.9 is not in versions" in text
    assert "0.9.0: version folder not listed" in text
    assert "schema_input.json: missing" in text
    assert "versions.0" in text and "colour" in text
    assert "$schema must name a JSON Schema draft" in text
    assert "platform param 'outdir' is not in the schema" in text
    assert "stray: no manifest.yaml" in text


def test_duplicate_pipeline_names_are_refused(tmp_catalog: Path, copy_pipeline) -> None:
    copy_pipeline("demo-hello", tmp_catalog)
    shutil.copytree(tmp_catalog / "demo-hello", tmp_catalog / "demo-hello-copy")
    with pytest.raises(CatalogError, match="also defined in another folder"):
        Catalog.load(tmp_catalog)


def test_missing_catalog_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not a directory"):
        Catalog.load(tmp_path / "nope")
