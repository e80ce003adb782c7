"""Session-wide fixtures: one real PostgreSQL for the whole test session.

``ARC_TEST_DATABASE_URL`` (or ``DATABASE_URL``) points the tests at an existing server; otherwise an
embedded one is started in a temporary directory. Each test module that needs isolation creates a
database of its own with ``make_database``.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from arc_platform.embedded_pg import start_embedded_postgres


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    """DSN of a PostgreSQL server the tests may create databases on."""
    url = os.environ.get("ARC_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    # Not under /root: pgserver runs postgres as an unprivileged user when started as root.
    tmp = Path(tempfile.mkdtemp(prefix="arc-test-pg-", dir="/tmp"))
    pg = start_embedded_postgres(tmp / "pgdata")
    yield pg.dsn
    pg.stop()


MakeDatabase = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
async def make_database(pg_admin_dsn: str) -> AsyncIterator[MakeDatabase]:
    """Returns a coroutine that creates an empty database and gives its DSN."""
    created: list[str] = []

    async def _make() -> str:
        name = "arc_test_" + uuid.uuid4().hex[:12]
        conn = await asyncpg.connect(pg_admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return _with_database(pg_admin_dsn, name)

    yield _make
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("arc-data")
