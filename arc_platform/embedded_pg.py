"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset (laptop and tests).

``pgserver`` ships PostgreSQL binaries in a wheel; it runs initdb on first use and keeps the
data between restarts. A previous process killed with SIGKILL can leave postgres running:
``pgserver`` finds that postmaster by its pid file and takes it over or restarts it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A running embedded server; ``stop()`` shuts it down (also done at interpreter exit)."""

    server: object
    dsn: str

    def stop(self) -> None:
        self.server.cleanup()  # type: ignore[attr-defined]


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse) PostgreSQL with its data under ``data_dir``. Blocking: call in a thread."""
    import pgserver  # imported lazily: production never needs it

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    dsn = server.get_uri()
    log.info("embedded PostgreSQL at %s", data_dir)
    return EmbeddedPostgres(server=server, dsn=dsn)
