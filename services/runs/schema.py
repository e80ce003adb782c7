"""The Runs service's database schema: its Alembic migrations (``migrations/``) and how to apply them."""

from __future__ import annotations

from pathlib import Path

from arc_core import db

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


async def migrate(dsn: str) -> None:
    """Bring the database at ``dsn`` to the newest Runs schema (replicas take turns)."""
    await db.migrate(dsn, MIGRATIONS_DIR)
