"""REST routes for who the caller is and what the platform runs on: each calls the Runs service over gRPC."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.exceptions import RequestValidationError

from arc.runs.v1 import runs_service_pb2, system_pb2, user_pb2
from arc_core.protos import from_struct
from gateway.deps import Backends, CallerMetadata
from gateway.inputs import body_struct, json_problem
from gateway.models.system import CurrentUser, SystemInfo
from gateway.openapi import ErrorsDeclared
from gateway.routers.health import services_health

router = APIRouter(prefix="/api", tags=["me"], route_class=ErrorsDeclared)

GATEWAY = "gateway"
SERVING = "SERVING"

ServicesHealth = Annotated[dict[str, str], Depends(services_health)]
Preferences = Annotated[
    dict[str, Any],
    Body(
        description="the new preferences (a JSON object, replacing the old), at most 16 KB as compact JSON",
        examples=[{"theme": "dark", "runs_page_size": 50}],
    ),
]


def user_json(user: user_pb2.User) -> dict[str, Any]:
    return {
        "email": user.email,
        "display_name": user.display_name,
        "is_admin": user.is_admin,
        "total_runs": user.total_runs,
        "successful_runs": user.successful_runs,
        "total_samples_processed": user.total_samples_processed,
        "runs_by_status": dict(user.runs_by_status),
        "preferences": from_struct(user.preferences),
        "created_at": user.created_at.ToJsonString() if user.HasField("created_at") else None,
    }


def system_json(info: system_pb2.SystemInfo, services: dict[str, str]) -> dict[str, Any]:
    return {
        "version": info.version,
        "executor": info.executor,
        "storage": info.storage,
        "nextflow_version": info.nextflow_version,
        "runs_by_status": dict(info.runs_by_status),
        "queue": {"running": info.queue.running, "queued": info.queue.queued, "capacity": info.queue.capacity},
        "work_retention_days": info.work_retention_days,
        "services": {**services, GATEWAY: SERVING},  # it answers: the gateway serves
    }


@router.get("/me", operation_id="get_me", response_model=CurrentUser)
async def get_me(backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """The caller: email, display name, admin or not, their stats and runs by status, their preferences."""
    return user_json(await backends.runs.GetCurrentUser(runs_service_pb2.GetCurrentUserRequest(), metadata=metadata))


@router.patch("/me/preferences", operation_id="update_preferences", response_model=CurrentUser)
async def update_preferences(preferences: Preferences, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """Replace the caller's preferences with the body, a JSON object of at most 16 KB; returns the caller."""
    problem = json_problem(preferences)
    if problem:
        raise RequestValidationError([{"loc": ("body", "preferences"), "msg": problem, "type": "value_error"}])
    request = runs_service_pb2.UpdatePreferencesRequest(preferences=body_struct("preferences", preferences))
    return user_json(await backends.runs.UpdatePreferences(request, metadata=metadata))


@router.get("/system", operation_id="get_system_info", response_model=SystemInfo)
async def get_system_info(backends: Backends, metadata: CallerMetadata, health: ServicesHealth) -> dict[str, Any]:
    """The platform's version, executor and storage, the Nextflow runs use, runs by status, the local queue,
    the work-dir retention, and each service's health."""
    info = await backends.runs.GetSystemInfo(runs_service_pb2.GetSystemInfoRequest(), metadata=metadata)
    return system_json(info, health)
