"""Clients of other services that Benchling calls, over their generated stubs only."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from arc.pipelines.v1 import pipelines_service_pb2, pipelines_service_pb2_grpc
from arc_core import grpc_client
from arc_core.identity import Identity

PIPELINES_TIMEOUT = 30.0


@dataclass(frozen=True)
class SamplesheetColumn:
    """One column of a pipeline's samplesheet, as Pipelines describes it."""

    name: str
    required: bool


class PipelinesClient:
    """Implements ``PipelinesPort`` (see ``service.py``) over the Pipelines gRPC API."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = pipelines_service_pb2_grpc.PipelinesServiceStub(channel)

    async def samplesheet_columns(
        self, identity: Identity, *, pipeline: str, version: str
    ) -> tuple[str, list[SamplesheetColumn]]:
        """The resolved version ('' = default) and its samplesheet columns, in schema order."""
        schema = await grpc_client.unary(
            self.stub.GetPipelineSchema,
            pipelines_service_pb2.GetPipelineSchemaRequest(name=pipeline, version=version),
            identity=identity,
            timeout=PIPELINES_TIMEOUT,
        )
        return schema.version, [SamplesheetColumn(c.name, c.required) for c in schema.samplesheet_columns]

    async def validate_samplesheet(
        self, identity: Identity, *, pipeline: str, version: str, samplesheet_csv: str
    ) -> int:
        """The sample count of a valid samplesheet; ``InvalidArgument`` with every violation otherwise."""
        response = await grpc_client.unary(
            self.stub.ValidateRunInputs,
            pipelines_service_pb2.ValidateRunInputsRequest(
                pipeline=pipeline, pipeline_version=version, samplesheet_csv=samplesheet_csv, samplesheet_only=True
            ),
            identity=identity,
            timeout=PIPELINES_TIMEOUT,
        )
        return response.sample_count
