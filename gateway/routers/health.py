"""Liveness of the gateway and readiness of the services behind it (``grpc.health.v1``)."""

from __future__ import annotations

import asyncio

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc

router = APIRouter(prefix="/api/health", tags=["health"])

READY_TIMEOUT = 3.0


@router.get("", operation_id="health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", operation_id="health_ready")
async def ready(request: Request) -> JSONResponse:
    """Each service's own health: Runs is SERVING only while its database answers."""
    checks: dict[str, tuple[grpc.aio.Channel, str]] = request.app.state.health_targets

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
    services = dict(zip(names, results, strict=True))
    ok = all(status == "SERVING" for status in results)
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "services": services}, status_code=200 if ok else 503
    )
