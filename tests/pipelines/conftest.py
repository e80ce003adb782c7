"""Fixtures for the Pipelines service domain tests (catalog, validation, config rendering)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from services.pipelines.catalog import DEFAULT_CATALOG_DIR, Catalog
from services.pipelines.models import PipelineVersionSchema

SCRNASEQ = "nf-core/scrnaseq"
VALID_PARAMS: dict[str, Any] = {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"}
GOOD_CSV = (
    "sample,fastq_1,fastq_2,expected_cells\n"
    "PBMC_1,s3://bucket/PBMC_1_L001_R1_001.fastq.gz,s3://bucket/PBMC_1_L001_R2_001.fastq.gz,5000\n"
    "PBMC_1,s3://bucket/PBMC_1_L002_R1_001.fastq.gz,s3://bucket/PBMC_1_L002_R2_001.fastq.gz,5000\n"
    "PBMC_2,gs://bucket/PBMC_2_R1.fq.gz,gs://bucket/PBMC_2_R2.fq.gz,\n"
)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def scrnaseq(catalog: Catalog) -> PipelineVersionSchema:
    return catalog.schema(SCRNASEQ, "2.7.1")


@pytest.fixture
def tmp_catalog(tmp_path: Path) -> Path:
    """An empty catalog directory."""
    root = tmp_path / "catalog"
    root.mkdir()
    return root


@pytest.fixture
def copy_pipeline() -> Callable[[str, Path], Path]:
    """Copy a shipped pipeline folder (by slug) into another catalog directory."""

    def copy(slug: str, dest_root: Path) -> Path:
        dest = dest_root / slug
        shutil.copytree(DEFAULT_CATALOG_DIR / slug, dest)
        return dest

    return copy


def write_pipeline(
    root: Path,
    slug: str,
    *,
    name: str,
    manifest_extra: dict[str, Any] | None = None,
    versions: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    default: str | None = None,
) -> Path:
    """Write a pipeline folder: ``versions`` maps version -> (nextflow_schema, schema_input)."""
    folder = root / slug
    manifest: dict[str, Any] = {
        "name": name,
        "display_name": name,
        "description": "test pipeline",
        "repository": f"https://github.com/{name}",
        "default_version": default or next(iter(versions)),
        "versions": [{"version": v} for v in versions],
        "platform_params": {"input": "samplesheet", "outdir": "results"},
        "samplesheet": {"sample_column": "sample"},
    }
    manifest.update(manifest_extra or {})
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    for version, (params_schema, input_schema) in versions.items():
        vdir = folder / "versions" / version
        vdir.mkdir(parents=True)
        (vdir / "nextflow_schema.json").write_text(json.dumps(params_schema, indent=4))
        (vdir / "schema_input.json").write_text(json.dumps(input_schema, indent=4))
    return folder


def simple_params_schema(extra_props: dict[str, Any] | None = None) -> dict[str, Any]:
    """A minimal nf-core style parameter schema (draft-07)."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema",
        "type": "object",
        "definitions": {
            "input_output_options": {
                "title": "Input/output options",
                "type": "object",
                "required": ["input", "outdir"],
                "properties": {"input": {"type": "string"}, "outdir": {"type": "string"}},
            },
            "main_options": {
                "title": "Main options",
                "type": "object",
                "properties": {
                    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                    **(extra_props or {}),
                },
            },
        },
        "allOf": [
            {"$ref": "#/definitions/input_output_options"},
            {"$ref": "#/definitions/main_options"},
        ],
    }


def simple_input_schema(*, fastq_2_required: bool = False, sample_unique: bool = False) -> dict[str, Any]:
    """A samplesheet schema with sample, fastq_1, optional/required fastq_2 and an integer column."""
    sample: dict[str, Any] = {
        "type": "string",
        "pattern": "^\\S+$",
        "errorMessage": "Sample name without spaces",
    }
    if sample_unique:
        sample["unique"] = True
    return {
        "$schema": "http://json-schema.org/draft-07/schema",
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "sample": sample,
                "fastq_1": {"type": "string", "pattern": "^\\S+\\.f(ast)?q\\.gz$"},
                "fastq_2": {"type": "string", "pattern": "^\\S+\\.f(ast)?q\\.gz$"},
                "cells": {"type": "integer", "minimum": 1},
            },
            "required": ["sample", "fastq_1", *(["fastq_2"] if fastq_2_required else [])],
        },
    }


@pytest.fixture
def pipeline_files() -> SimpleNamespace:
    """Helpers to write pipeline folders: ``write``, ``params_schema``, ``input_schema``."""
    return SimpleNamespace(write=write_pipeline, params_schema=simple_params_schema, input_schema=simple_input_schema)
