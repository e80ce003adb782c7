"""Request dependencies: the caller's identity headers (forwarded as gRPC metadata) and the stubs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from arc.benchling.v1 import benchling_service_pb2_grpc
from arc.logs.v1 import logs_service_pb2_grpc
from arc.pipelines.v1 import pipelines_service_pb2_grpc
from arc.runs.v1 import runs_service_pb2_grpc
from arc_core.identity import IDENTITY_HEADERS, VIA_GATEWAY_HEADER

# An IAP JWT is about 1 KB, an email at most 254 characters.
MAX_IDENTITY_HEADER_CHARS = 8192


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
    forwarded = tuple((name, request.headers[name]) for name in IDENTITY_HEADERS if name in request.headers)
    for name, value in forwarded:
        # gRPC metadata values are printable ASCII (anything else fails the call itself: a 500) and the
        # metadata of a call is capped at 16 KiB (past it, a RESOURCE_EXHAUSTED that would read as a 429).
        if len(value) > MAX_IDENTITY_HEADER_CHARS:
            raise HTTPException(401, f"the {name} header is longer than {MAX_IDENTITY_HEADER_CHARS} characters")
        if not all(" " <= char <= "~" for char in value):
            raise HTTPException(401, f"the {name} header is not printable ASCII")
    return (*forwarded, (VIA_GATEWAY_HEADER, "1"))


async def stubs(request: Request) -> Stubs:
    return request.app.state.stubs


CallerMetadata = Annotated[tuple[tuple[str, str], ...], Depends(forwarded_identity)]
Backends = Annotated[Stubs, Depends(stubs)]
