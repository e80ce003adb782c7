"""The Benchling service: warehouse reads and samplesheets built from NGS runs, and its gRPC face.

``BenchlingService`` is plain async code (no ``grpc``): the warehouse, the Pipelines port, and the
samplesheet builder. ``BenchlingServicer`` only translates between protobuf and that code.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import grpc
from google.protobuf import timestamp_pb2

from arc.benchling.v1 import benchling_service_pb2, benchling_service_pb2_grpc, ngs_pb2
from arc_core.errors import FieldViolation, InvalidArgument, Unavailable
from arc_core.grpc_server import current_identity
from arc_core.identity import Identity
from arc_core.protos import timestamp
from services.benchling.clients import SamplesheetColumn
from services.benchling.warehouse import NgsRun, Sample, Warehouse, render_samplesheet

SERVICE_NAME = benchling_service_pb2.DESCRIPTOR.services_by_name["BenchlingService"].full_name
READY_TIMEOUT = 2.0

# Where ValidateRunInputs locates a problem with one column: "samplesheet[row 3].sample_type".
_COLUMN_VIOLATION = re.compile(r"^samplesheet\[(?:row \d+|header)\]\.(?P<column>.+)$")


class PipelinesPort(Protocol):
    """What the samplesheet builder needs from the Pipelines service."""

    async def samplesheet_columns(
        self, identity: Identity, *, pipeline: str, version: str
    ) -> tuple[str, list[SamplesheetColumn]]: ...

    async def validate_samplesheet(
        self, identity: Identity, *, pipeline: str, version: str, samplesheet_csv: str
    ) -> int: ...


@dataclass(frozen=True)
class BuiltSamplesheet:
    """A validated samplesheet and where its samples came from."""

    csv: str
    sample_count: int
    source_ngs_runs: list[str]
    source_project: str | None
    omitted_columns: list[str]


def sheet_columns(columns: Sequence[SamplesheetColumn], rows: Sequence[Mapping[str, str]]) -> list[str]:
    """The pipeline's columns a built sheet gets, in schema order: every required one, and the optional
    ones the warehouse has a value for (columns the pipeline does not declare are never written)."""
    return [c.name for c in columns if c.required or any(row.get(c.name) for row in rows)]


def violated_columns(violations: Iterable[FieldViolation]) -> set[str]:
    """The samplesheet columns named by ValidateRunInputs' violations."""
    return {m["column"] for v in violations if (m := _COLUMN_VIOLATION.match(v.field))}


class BenchlingService:
    """Read-only warehouse access plus samplesheets validated by the Pipelines service."""

    def __init__(self, warehouse: Warehouse, pipelines: PipelinesPort, *, ready_timeout: float = READY_TIMEOUT):
        self.warehouse = warehouse
        self.pipelines = pipelines
        self.ready_timeout = ready_timeout
        self._pings = 0

    @property
    def query_count(self) -> int:
        """Warehouse queries made for callers (readiness pings left out), for tests and benchmarks."""
        return self.warehouse.query_count - self._pings

    async def ready(self) -> bool:
        """True when the warehouse answers within ``ready_timeout`` (polled into the health status)."""
        # Counted before the ping starts: its query is counted in the same step, so query_count stays exact.
        self._pings += 1
        try:
            async with asyncio.timeout(self.ready_timeout):
                await self.warehouse.ping()
        except (Unavailable, TimeoutError):
            return False
        return True

    async def build_samplesheet(
        self, identity: Identity, *, pipeline: str, version: str, ngs_runs: Sequence[str]
    ) -> BuiltSamplesheet:
        """The samplesheet of ``pipeline`` for the samples of ``ngs_runs``, validated by Pipelines.

        Optional columns whose warehouse values the pipeline rejects are left out (and listed), so a
        tenant's metadata never blocks a launch; problems in required columns are InvalidArgument.
        """
        if not pipeline.strip():
            raise InvalidArgument("pipeline is required", [FieldViolation("pipeline", "is required")])
        version, columns = await self.pipelines.samplesheet_columns(identity, pipeline=pipeline, version=version)
        rows, project = await self.warehouse.build_samplesheet_rows(ngs_runs)
        sources = list(dict.fromkeys(ngs_runs))
        if not rows:
            raise InvalidArgument(
                "the NGS runs have no samples",
                [FieldViolation("ngs_runs", f"{', '.join(sources)}: no (non-archived) samples in the warehouse")],
            )
        required = {c.name for c in columns if c.required}
        chosen = sheet_columns(columns, rows)
        omitted: list[str] = []
        while True:  # each pass drops at least one column, so this ends
            text = render_samplesheet(chosen, rows)
            try:
                count = await self.pipelines.validate_samplesheet(
                    identity, pipeline=pipeline, version=version, samplesheet_csv=text
                )
            except InvalidArgument as exc:
                bad = violated_columns(exc.violations)
                drop = [c for c in chosen if c in bad and c not in required]
                if not drop:
                    raise InvalidArgument(
                        f"the samples of {', '.join(sources)} do not make a valid {pipeline} {version}"
                        f" samplesheet: {exc.message}",
                        exc.violations,
                        reason="SAMPLESHEET_INVALID",
                    ) from None
                chosen = [c for c in chosen if c not in drop]
                omitted.extend(drop)
                continue
            return BuiltSamplesheet(text, count, sources, project, omitted)


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


def _time(request: object, field: str) -> datetime | None:
    if not request.HasField(field):  # type: ignore[attr-defined]
        return None
    return getattr(request, field).ToDatetime(tzinfo=UTC)


class BenchlingServicer(benchling_service_pb2_grpc.BenchlingServiceServicer):
    def __init__(self, service: BenchlingService) -> None:
        self.service = service

    async def ListNgsRuns(
        self, request: benchling_service_pb2.ListNgsRunsRequest, context: grpc.aio.ServicerContext
    ) -> benchling_service_pb2.ListNgsRunsResponse:
        runs, token = await self.service.warehouse.list_ngs_runs(
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
        samples = await self.service.warehouse.list_ngs_run_samples(request.ngs_run)
        return benchling_service_pb2.ListNgsRunSamplesResponse(samples=[sample_to_proto(s) for s in samples])

    async def GetMetadata(
        self, request: benchling_service_pb2.GetMetadataRequest, context: grpc.aio.ServicerContext
    ) -> benchling_service_pb2.Metadata:
        metadata = await self.service.warehouse.get_metadata()
        return benchling_service_pb2.Metadata(
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
