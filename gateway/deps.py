"""Request dependencies: the caller's identity headers (forwarded as gRPC metadata) and the stubs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from arc.benchling.v1 import benchling_service_pb2_grpc
from arc.logs.v1 import logs_service_pb2_grpc
from arc.pipelines.v1 import pipelines_service_pb2_grpc
from arc.runs.v1 import runs_service_pb2_grpc
from arc_core.identity import IDENTITY_HEADERS


@dataclass(frozen=True)
class Stubs:
    runs: runs_service_pb2_grpc.RunsServiceStub
    logs: logs_service_pb2_grpc.LogsServiceStub
    pipelines: pipelines_service_pb2_grpc.PipelinesServiceStub
    benchling: benchling_service_pb2_grpc.BenchlingServiceStub


async def forwarded_identity(request: Request) -> tuple[tuple[str, str], ...]:
    """The identity headers as gRPC metadata; each service verifies them itself.

    Dependencies are ``async`` on purpose: FastAPI runs plain functions in a worker thread, which cost
    more than the whole gRPC call here.
    """
    return tuple((name, request.headers[name]) for name in IDENTITY_HEADERS if name in request.headers)


async def stubs(request: Request) -> Stubs:
    return request.app.state.stubs


CallerMetadata = Annotated[tuple[tuple[str, str], ...], Depends(forwarded_identity)]
Backends = Annotated[Stubs, Depends(stubs)]
