"""What ``--target`` can name: every service (name → its ``build``), the gateway, and ``all``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from arc_core.grpc_server import ServiceRegistration
from arc_core.settings import Settings
from services.benchling import server as benchling_server
from services.logs import server as logs_server
from services.pipelines import server as pipelines_server
from services.runs import server as runs_server

# ``build(settings, *, database_url=...)`` connects a service's backends and returns its registration and
# its domain object. Runs requires the database URL; the others take ``None`` (see ``needs_database``).
BuildService = Callable[..., Awaitable[tuple[ServiceRegistration, object]]]

SERVICES: dict[str, BuildService] = {
    "runs": runs_server.build,
    "logs": logs_server.build,
    "pipelines": pipelines_server.build,
    "benchling": benchling_server.build,
}
TARGETS = (*SERVICES, "gateway", "all")
# Roles that may use the platform database (Benchling only for its demo warehouse).
NEEDS_DATABASE = {"runs", "benchling"}


def needs_database(settings: Settings, targets: list[str]) -> bool:
    """Whether these targets need the platform database (and so, without DATABASE_URL, the embedded one)."""
    return "runs" in targets or ("benchling" in targets and not settings.benchling_warehouse_url)


def expand_targets(targets: list[str]) -> list[str]:
    """``all`` as every service and the gateway; duplicates dropped; ValueError naming an unknown target."""
    if "all" in targets:
        return [*SERVICES, "gateway"]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        raise ValueError(f"unknown target(s) {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    return list(dict.fromkeys(targets))
