"""REST routes for the Benchling warehouse: each one calls the Benchling service over gRPC."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from arc.benchling.v1 import benchling_service_pb2, ngs_pb2
from arc_core.protos import timestamp
from gateway.convert import message_dict
from gateway.deps import Backends, CallerMetadata
from gateway.inputs import Instant, RequestBody
from gateway.models.benchling import BenchlingMetadata, BuiltSamplesheet, NgsRunPage, NgsRunSamples
from gateway.openapi import ErrorsDeclared
from gateway.paging import ServicePageSize

router = APIRouter(prefix="/api/benchling", tags=["benchling"], route_class=ErrorsDeclared)


class BuildSamplesheetBody(RequestBody):
    pipeline: str
    pipeline_version: str = ""
    ngs_runs: list[str] = Field(default_factory=list)


def ngs_run_json(run: ngs_pb2.NgsRun) -> dict[str, Any]:
    data = message_dict(run)
    for name in ("run_date", "created_at"):
        data.setdefault(name, None)
    return data


@router.get("/runs", operation_id="list_ngs_runs", response_model=NgsRunPage)
async def list_ngs_runs(
    backends: Backends,
    metadata: CallerMetadata,
    project: str = "",
    instrument: str = "",
    created_after: Instant | None = None,
    created_before: Instant | None = None,
    name_contains: str = "",
    page_size: ServicePageSize = 0,
    page_token: str = "",
) -> dict[str, Any]:
    """Non-archived NGS runs, newest first; ``project``/``instrument`` match an id or a name."""
    request = benchling_service_pb2.ListNgsRunsRequest(
        project=project,
        instrument=instrument,
        name_contains=name_contains,
        page_size=page_size,
        page_token=page_token,
    )
    if created_after is not None:
        request.created_after.CopyFrom(timestamp(created_after))
    if created_before is not None:
        request.created_before.CopyFrom(timestamp(created_before))
    response = await backends.benchling.ListNgsRuns(request, metadata=metadata)
    return {
        "ngs_runs": [ngs_run_json(r) for r in response.ngs_runs],
        "next_page_token": response.next_page_token or None,
    }


@router.get("/runs/{name:path}/samples", operation_id="list_ngs_run_samples", response_model=NgsRunSamples)
async def list_ngs_run_samples(name: str, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """Samples of one NGS run (by name or id), with FASTQ paths and metadata."""
    request = benchling_service_pb2.ListNgsRunSamplesRequest(ngs_run=name)
    response = await backends.benchling.ListNgsRunSamples(request, metadata=metadata)
    return {"samples": [message_dict(s) for s in response.samples]}


@router.get("/metadata", operation_id="get_benchling_metadata", response_model=BenchlingMetadata)
async def get_metadata(backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """Projects, instruments and sample facets for the filters (cached by the service for 5 minutes)."""
    response = await backends.benchling.GetMetadata(benchling_service_pb2.GetMetadataRequest(), metadata=metadata)
    return message_dict(response)


@router.post("/samplesheet", operation_id="build_samplesheet", response_model=BuiltSamplesheet)
async def build_samplesheet(body: BuildSamplesheetBody, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """A validated samplesheet for ``pipeline`` from the samples of ``ngs_runs``, ready for ``POST /api/runs``."""
    request = benchling_service_pb2.BuildSamplesheetRequest(
        pipeline=body.pipeline, pipeline_version=body.pipeline_version, ngs_runs=body.ngs_runs
    )
    response = await backends.benchling.BuildSamplesheet(request, metadata=metadata)
    return {
        "samplesheet_csv": response.samplesheet_csv,
        "sample_count": response.sample_count,
        "source_ngs_runs": list(response.source_ngs_runs),
        "source_project": response.source_project or None,
        "omitted_columns": list(response.omitted_columns),
    }
