"""Clients of other services that Runs calls, over their generated stubs only."""

from __future__ import annotations

from typing import Any

import grpc

from arc.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from arc.pipelines.v1 import pipelines_service_pb2, pipelines_service_pb2_grpc
from arc_core import grpc_client
from arc_core.identity import Identity
from arc_core.service_identity import ServiceCredential
from services.runs.convert import to_struct
from services.runs.input_locations import InputPath, ValidatedInputs
from services.runs.progress import ProcessCounts


class PipelinesClient:
    """Implements ``PipelinesPort`` over the Pipelines gRPC API."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = pipelines_service_pb2_grpc.PipelinesServiceStub(channel)

    async def validate_run_inputs(
        self,
        identity: Identity,
        *,
        pipeline: str,
        version: str,
        params: dict[str, Any],
        samplesheet_csv: str,
        user_config: str = "",
    ) -> ValidatedInputs:
        response = await grpc_client.unary(
            self.stub.ValidateRunInputs,
            pipelines_service_pb2.ValidateRunInputsRequest(
                pipeline=pipeline,
                pipeline_version=version,
                params=to_struct(params),
                samplesheet_csv=samplesheet_csv,
                user_config=user_config,
            ),
            identity=identity,
        )
        return ValidatedInputs(
            response.sample_count,
            tuple(InputPath(p.field, p.uri, p.kind or "path", p.must_exist) for p in response.input_paths),
            dict(response.platform_params),
        )

    async def render_config(
        self, identity: Identity, *, pipeline: str, version: str, run_id: str, user_config: str
    ) -> str:
        response = await grpc_client.unary(
            self.stub.RenderConfig,
            pipelines_service_pb2.RenderConfigRequest(
                pipeline=pipeline, pipeline_version=version, run_id=run_id, user_config=user_config
            ),
            identity=identity,
        )
        return response.config_content


class LogsClient:
    """Task progress from the Logs service (it owns the trace), asked as the Runs service itself.

    The poller serves every watcher of a run, so it calls with ``credential`` (the service's own identity,
    see ``arc_core.service_identity``), never with a watcher's forwarded token; WatchRun has already checked
    that each watcher may see the run.
    """

    def __init__(self, channel: grpc.aio.Channel, credential: ServiceCredential) -> None:
        self.stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        self.credential = credential

    async def progress(self, run_id: str) -> tuple[ProcessCounts, ...]:
        response = await grpc_client.unary(
            self.stub.ListTasks,
            logs_service_pb2.ListTasksRequest(run_id=run_id, page_size=1),
            metadata=await self.credential.metadata(),
        )
        return tuple(
            ProcessCounts(
                process=p.process,
                submitted=p.submitted,
                running=p.running,
                succeeded=p.succeeded,
                cached=p.cached,
                failed=p.failed,
                total=p.total,
                aborted=p.aborted,
            )
            for p in response.progress
        )
