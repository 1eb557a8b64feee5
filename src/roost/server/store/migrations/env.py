"""Alembic environment: uses the connection handed over by :mod:`roost.server.store.migrate`."""

from alembic import context

from roost.server.store.rows import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic's own CLI is used
    raise SystemExit("run migrations through `roost server` (it upgrades at start)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
