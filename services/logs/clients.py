"""The Runs service as Logs sees it: GetRun and WatchRun over the generated stub, the caller's identity
forwarded, or the Logs service's own credential (identity ``None``) once the caller's access is settled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc

from arc.runs.v1 import run_pb2, runs_service_pb2, runs_service_pb2_grpc
from arc_core import grpc_client
from arc_core.contracts.run_status import END_TIMESTAMP
from arc_core.errors import Unauthenticated
from arc_core.identity import Identity
from arc_core.service_identity import ServiceCredential
from services.logs.runs import RunView

_END_FIELDS = END_TIMESTAMP


def _time(run: run_pb2.Run, name: str) -> datetime | None:
    return getattr(run, name).ToDatetime(tzinfo=UTC) if run.HasField(name) else None


def run_view(run: run_pb2.Run) -> RunView:
    """The fields Logs uses of an ``arc.runs.v1.Run``."""
    status = run_pb2.Run.Status.Name(run.status).lower()
    end_field = _END_FIELDS.get(status)
    return RunView(
        run_id=run.run_id,
        status=status,
        created_at=_time(run, "created_at"),
        started_at=_time(run, "started_at"),
        ended_at=_time(run, end_field) if end_field else None,
        reused_work_dir=run.reused_work_dir,
        batch_job_name=run.batch_job_name,
        parent_run_id=run.parent_run_id,
        purged_at=_time(run, "purged_at"),
    )


class RunsClient:
    """Implements ``RunsPort`` over the Runs gRPC API."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        credential: ServiceCredential | None = None,
        timeout: float = grpc_client.DEFAULT_TIMEOUT,
    ) -> None:
        self.stub = runs_service_pb2_grpc.RunsServiceStub(channel)
        self.credential = credential
        self.timeout = timeout

    async def _metadata(self, identity: Identity | None) -> tuple[tuple[str, str], ...]:
        if identity is not None:
            return grpc_client.metadata_for(identity)
        if self.credential is None:
            raise Unauthenticated("the Logs service has no credential of its own")
        return await self.credential.metadata()

    async def get_run(self, identity: Identity | None, run_id: str) -> RunView:
        run = await grpc_client.unary(
            self.stub.GetRun,
            runs_service_pb2.GetRunRequest(run_id=run_id),
            metadata=await self._metadata(identity),
            timeout=self.timeout,
        )
        return run_view(run)

    async def watch_run(self, identity: Identity | None, run_id: str) -> AsyncIterator[RunView]:
        request = runs_service_pb2.WatchRunRequest(run_id=run_id)
        metadata = await self._metadata(identity)
        async for event in grpc_client.stream(self.stub.WatchRun, request, metadata=metadata):
            if event.WhichOneof("event") == "status":
                yield run_view(event.status)
