"""Migrations: replicas starting at once take turns; the schema has the spec's tables and indexes."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.runs.schema import migrate


@pytest.mark.timeout(60)
async def test_concurrent_migrations_take_turns(make_database) -> None:
    dsn = await make_database()
    await asyncio.wait_for(asyncio.gather(*(migrate(dsn) for _ in range(4))), 45)
    conn = await asyncpg.connect(dsn)
    try:
        indexes = {
            r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'runs'")
        }
        tables = {
            r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    finally:
        await conn.close()
    assert {"idx_runs_user_email_created_at", "idx_runs_status_created_at", "idx_runs_created_at"} <= indexes
    assert {"runs", "users", "checkpoints", "run_status_history"} <= tables
