"""Start any subset of the services (and the gateway) in one process, and stop them cleanly.

``--target all`` is the laptop's embedded mode; ``--target runs`` etc. is one service per pod. In
one process the services still call each other over loopback gRPC, exactly as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import grpc
import uvicorn

from arc_core.grpc_server import HealthReporter, ServiceRegistration, SideServer, build_server, build_side_server
from arc_core.identity import Authenticator
from arc_core.settings import Settings
from arc_platform.embedded_pg import EmbeddedPostgres, start_embedded_postgres
from arc_platform.targets import SERVICES, expand_targets, needs_database
from gateway.main import create_app

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 5.0


@dataclass
class Platform:
    """A running set of services; ``stop()`` undoes ``start()`` in reverse order."""

    settings: Settings
    targets: list[str]
    grpc_port: int = 0
    http_port: int = 0
    # Ports actually bound by the services' side servers, by name (e.g. Runs' "status").
    side_ports: dict[str, int] = field(default_factory=dict)
    database_url: str | None = None
    services: dict[str, object] = field(default_factory=dict)
    _stack: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _embedded: EmbeddedPostgres | None = None

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        service_targets = [t for t in self.targets if t in SERVICES]
        if needs_database(self.settings, service_targets):
            self.database_url = self.settings.database_url or await self._embedded_database()
        if service_targets:
            await self._start_grpc(service_targets)
        if "gateway" in self.targets:
            await self._start_gateway()

    async def _embedded_database(self) -> str:
        log.info("DATABASE_URL is unset: starting the embedded PostgreSQL under %s", self.settings.data_dir)
        self._embedded = await asyncio.to_thread(start_embedded_postgres, self.settings.data_dir / "pgdata")
        return self._embedded.dsn

    async def _start_grpc(self, service_targets: list[str]) -> None:
        server, interceptor = build_server(Authenticator(self.settings))
        address = f"{self.settings.bind_host}:{self.settings.grpc_port}"
        self.grpc_port = _bind(server, address)
        # Services in this process reach each other on the port actually bound (0 in tests picks one).
        local = f"127.0.0.1:{self.grpc_port}"
        self.settings = self.settings.model_copy(
            update={f"{s}_address": local for s in service_targets if not getattr(self.settings, f"{s}_address")}
        )
        registrations: list[ServiceRegistration] = []
        health = HealthReporter()
        side_servers: list[grpc.aio.Server] = []
        for name in service_targets:
            registration, service = await SERVICES[name](self.settings, database_url=self.database_url)
            self._stack.extend(registration.on_stop)
            registrations.append(registration)
            self.services[name] = service
            registration.add_to_server(server)
            interceptor.self_authenticated.update(registration.self_authenticated)
            for side in registration.side_servers:
                side_servers.append(self._bind_side_server(side, registration.name, health))
        health.add_to_server(server, [r.name for r in registrations])
        started: list[grpc.aio.Server] = []
        self._stack.append(lambda: _stop_servers(started))
        for each in (server, *side_servers):
            await each.start()
            started.append(each)
        for registration in registrations:
            for hook in registration.on_start:
                await hook()
        await self._refresh_health(health, registrations)
        task = asyncio.create_task(self._watch_health(health, registrations), name="health")
        self._stack.append(lambda: _cancel(task))
        log.info("gRPC %s on %s", ", ".join(r.name for r in registrations), address)

    def _bind_side_server(self, side: SideServer, service_name: str, health: HealthReporter) -> grpc.aio.Server:
        """Bind a service's side port (on the same host as the main one) and tell the service which port."""
        server = build_side_server(side)
        address = f"{self.settings.bind_host}:{side.port}"
        port = _bind(server, address)
        side.add_to_server(server)
        health.add_to_side_server(server, [service_name])
        self.side_ports[side.name] = port
        if side.on_bound is not None:
            side.on_bound(port)
        log.info("gRPC %s port of %s on %s:%d", side.name, service_name, self.settings.bind_host, port)
        return server

    @staticmethod
    async def _refresh_health(health: HealthReporter, registrations: list[ServiceRegistration]) -> None:
        overall = True
        for registration in registrations:
            ready = await registration.ready() if registration.ready else True
            overall = overall and ready
            await health.set(registration.name, ready)
        await health.set("", overall)

    async def _watch_health(self, health: HealthReporter, registrations: list[ServiceRegistration]) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            try:
                await self._refresh_health(health, registrations)
            except Exception:
                log.exception("health check failed")

    async def _start_gateway(self) -> None:
        settings = self.settings
        if "runs" in self.targets and not settings.runs_address:
            # Services in this process: reach them on the port actually bound (it may be 0 in tests).
            address = f"127.0.0.1:{self.grpc_port}"
            settings = settings.model_copy(update={f"{s}_address": address for s in SERVICES if s in self.targets})
        app = create_app(settings)
        config = uvicorn.Config(
            app, host=settings.bind_host, port=settings.http_port, log_level="info", lifespan="on", access_log=False
        )
        server = _GatewayServer(config)
        task = asyncio.create_task(server.serve(), name="gateway")
        while not server.started:
            if task.done():
                task.result()
                raise OSError("gateway did not start")
            await asyncio.sleep(0.02)
        self.http_port = server.servers[0].sockets[0].getsockname()[1]

        async def stop() -> None:
            server.should_exit = True
            await task

        self._stack.append(stop)
        log.info("gateway on http://%s:%d (OpenAPI at /docs)", settings.bind_host, self.http_port)

    async def stop(self) -> None:
        while self._stack:
            hook = self._stack.pop()
            try:
                await hook()
            except Exception:
                log.exception("error while stopping")
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
            self._embedded = None


class _GatewayServer(uvicorn.Server):
    """uvicorn without its own SIGINT/SIGTERM handlers: ``serve()`` would replace the platform's (it calls
    ``signal.signal`` in ``capture_signals``), stopping the gateway before the platform hears the signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(server: grpc.aio.Server, address: str) -> int:
    """The port bound; OSError naming the address when it is taken (gRPC says RuntimeError, or 0)."""
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address}: {exc}") from None
    if not port:
        raise OSError(f"cannot listen on {address}")
    return port


async def _stop_servers(servers: list[grpc.aio.Server]) -> None:
    """Stop the main and side servers together, each with the same grace period."""
    await asyncio.gather(*(server.stop(grace=5) for server in servers))


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve(settings: Settings, targets: list[str]) -> None:
    """Run until SIGINT/SIGTERM, then stop everything (the embedded PostgreSQL included)."""
    platform = Platform(settings=settings, targets=expand_targets(targets))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await platform.start()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await platform.stop()


__all__ = ["Platform", "serve"]
