"""PostgreSQL access: the asyncpg pool (JSONB as Python objects) and Alembic migrations at start-up.

The migrations belong to the service that owns the schema (Runs: ``services/runs/schema.py``), which
passes its own folder to ``migrate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

MIGRATION_LOCK = 0x41524D47  # "ARMG": serialises migrations across replicas


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
    )


def sqlalchemy_url(dsn: str) -> str:
    """The same DSN for SQLAlchemy's asyncpg dialect (Alembic's engine)."""
    scheme, sep, rest = dsn.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://user:pass@host/db")
    return "postgresql+asyncpg://" + rest


async def migrate(dsn: str, migrations_dir: Path, *, revision: str = "head") -> None:
    """Apply the Alembic migrations in ``migrations_dir`` through SQLAlchemy's async engine (no second
    driver needed)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import create_async_engine

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    engine = create_async_engine(sqlalchemy_url(dsn))
    try:
        async with engine.begin() as conn:

            def _upgrade(sync_conn: object) -> None:
                # Replicas starting together take turns: the lock lasts until this transaction ends.
                sync_conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")  # type: ignore[attr-defined]
                config.attributes["connection"] = sync_conn
                command.upgrade(config, revision)

            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()


def execute_script(op: object, script: str) -> None:
    """Run a migration's SQL one statement at a time (the asyncpg driver prepares each one).

    Statements are split on ``;``, so scripts must not put semicolons inside literals.
    """
    for statement in script.split(";"):
        if statement.strip():
            op.execute(statement)  # type: ignore[attr-defined]
