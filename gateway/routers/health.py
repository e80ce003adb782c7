"""Liveness of the gateway and readiness of the services behind it (``grpc.health.v1``)."""

from __future__ import annotations

import asyncio

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import BaseModel, Field

from gateway.openapi import ErrorsDeclared

router = APIRouter(prefix="/api/health", tags=["health"], route_class=ErrorsDeclared)

READY_TIMEOUT = 3.0


class Liveness(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="`ready`, or `unavailable` when a service is not SERVING")
    services: dict[str, str] = Field(description="each service's health: `SERVING`, `NOT_SERVING`, `UNREACHABLE (...)`")


@router.get("", operation_id="health", response_model=Liveness)
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def services_health(request: Request) -> dict[str, str]:
    """Each service's own ``grpc.health.v1`` status, checked at once: ``SERVING``, ``NOT_SERVING``, or
    ``UNREACHABLE (<code>)``. Runs is SERVING only while its database answers."""
    # Set by the app's lifespan (none without it: an app under test with stub services).
    checks: dict[str, tuple[grpc.aio.Channel, str]] = getattr(request.app.state, "health_targets", {})

    async def check(channel: grpc.aio.Channel, service: str) -> str:
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=READY_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            return f"UNREACHABLE ({exc.code().name})"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    names = list(checks)
    results = await asyncio.gather(*(check(*checks[n]) for n in names))
    return dict(zip(names, results, strict=True))


@router.get(
    "/ready",
    operation_id="health_ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A service behind the gateway is not serving"}},
)
async def ready(request: Request) -> JSONResponse:
    """Each service's own health: Runs is SERVING only while its database answers."""
    services = await services_health(request)
    ok = all(status == "SERVING" for status in services.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "services": services}, status_code=200 if ok else 503
    )
