"""gRPC face of the Benchling service: translates between protobuf and ``BenchlingService`` (``service.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from arc.benchling.v1 import benchling_service_pb2, benchling_service_pb2_grpc, ngs_pb2
from arc_core.grpc_server import current_identity
from arc_core.protos import timestamp
from services.benchling.service import BenchlingService
from services.benchling.warehouse import NgsRun, Sample

SERVICE_NAME = benchling_service_pb2.DESCRIPTOR.services_by_name["BenchlingService"].full_name


# ------------------------------------------------------------------------------------------ conversions


def _date(text: str | None) -> timestamp_pb2.Timestamp | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))


def ngs_run_to_proto(run: NgsRun) -> ngs_pb2.NgsRun:
    message = ngs_pb2.NgsRun(
        id=run.id,
        name=run.name,
        project=run.project_name or run.project_id or "",
        instrument=run.instrument_name or run.instrument_id or "",
        created_at=timestamp(run.created_at),
        sample_count=run.sample_count or 0,
    )
    run_date = _date(run.run_date)
    if run_date is not None:
        message.run_date.CopyFrom(run_date)
    return message


def sample_to_proto(sample: Sample) -> ngs_pb2.NgsSample:
    metadata = {k: v for k, v in sample.metadata.items() if v is not None}
    if sample.expected_cells is not None:
        metadata["expected_cells"] = str(sample.expected_cells)
    return ngs_pb2.NgsSample(
        id=sample.id,
        name=sample.name,
        ngs_run=sample.ngs_run_name,
        fastq_1=sample.fastq_1 or "",
        fastq_2=sample.fastq_2 or "",
        metadata=metadata,
    )


def _time(request: Message, field: str) -> datetime | None:
    if not request.HasField(field):
        return None
    return getattr(request, field).ToDatetime(tzinfo=UTC)


class BenchlingServicer(benchling_service_pb2_grpc.BenchlingServiceServicer):
    def __init__(self, service: BenchlingService) -> None:
        self.service = service

    async def ListNgsRuns(
        self, request: benchling_service_pb2.ListNgsRunsRequest, context: grpc.aio.ServicerContext
    ) -> benchling_service_pb2.ListNgsRunsResponse:
        runs, token = await self.service.list_ngs_runs(
            project=request.project,
            instrument=request.instrument,
            created_after=_time(request, "created_after"),
            created_before=_time(request, "created_before"),
            name_contains=request.name_contains,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return benchling_service_pb2.ListNgsRunsResponse(
            ngs_runs=[ngs_run_to_proto(r) for r in runs], next_page_token=token
        )

    async def ListNgsRunSamples(
        self, request: benchling_service_pb2.ListNgsRunSamplesRequest, context: grpc.aio.ServicerContext
    ) -> benchling_service_pb2.ListNgsRunSamplesResponse:
        samples = await self.service.list_ngs_run_samples(request.ngs_run)
        return benchling_service_pb2.ListNgsRunSamplesResponse(samples=[sample_to_proto(s) for s in samples])

    async def GetMetadata(
        self, request: benchling_service_pb2.GetMetadataRequest, context: grpc.aio.ServicerContext
    ) -> ngs_pb2.Metadata:
        metadata = await self.service.get_metadata()
        return ngs_pb2.Metadata(
            projects=[p.name for p in metadata.projects],
            instruments=[i.name for i in metadata.instruments],
            facets=[ngs_pb2.Facet(name=name, values=list(values)) for name, values in metadata.facets.items()],
        )

    async def BuildSamplesheet(
        self, request: benchling_service_pb2.BuildSamplesheetRequest, context: grpc.aio.ServicerContext
    ) -> benchling_service_pb2.BuildSamplesheetResponse:
        built = await self.service.build_samplesheet(
            current_identity(),
            pipeline=request.pipeline,
            version=request.pipeline_version,
            ngs_runs=list(request.ngs_runs),
        )
        return benchling_service_pb2.BuildSamplesheetResponse(
            samplesheet_csv=built.csv,
            sample_count=built.sample_count,
            source_ngs_runs=built.source_ngs_runs,
            source_project=built.source_project or "",
            omitted_columns=built.omitted_columns,
        )
