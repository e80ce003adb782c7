"""Alembic environment: migrations run on a connection handed over by ``services.runs.schema.migrate``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through services.runs.schema.migrate (python -m arc_platform migrate)")

context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
