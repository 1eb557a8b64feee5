"""Alembic migrations, run programmatically at server start (no alembic.ini needed).

At start the plane compares the database's revision with the newest one it knows:

- the same: nothing to do;
- unknown (a newer Roost migrated the database): refuse to start -- this replica's code would
  misread the rows;
- older: upgrade on SQLite (one plane owns the file) and on an empty PostgreSQL database; on a
  PostgreSQL database in use, refuse unless told to upgrade (``roost server --upgrade-db``), so
  that one new replica does not change the schema under older replicas still serving it.

Concurrent starts are serialised: a PostgreSQL advisory lock (SQLite: ``BEGIN IMMEDIATE``)
is held for the whole check-and-upgrade transaction.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from roost.server.store.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_KEY = 0x726F6F7374  # "roost": one advisory lock id for schema changes


class SchemaMismatch(Exception):
    """The database's schema and this plane's code do not match; the message says what to do."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    return str(ScriptDirectory.from_config(alembic_config("")).get_current_head())


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision (refusing a newer, unknown one)."""
    await prepare(db, allow_upgrade=True)


async def prepare(db: Database, *, allow_upgrade: bool) -> None:
    """Check the schema at start and upgrade it where allowed (see the module docstring)."""
    async with db.write_engine.begin() as conn:
        if not db.is_sqlite:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        await conn.run_sync(_prepare_sync, db.url, allow_upgrade or db.is_sqlite)


def _prepare_sync(sync_conn: Connection, url: str, allow_upgrade: bool, /) -> None:
    cfg = alembic_config(url)
    current = MigrationContext.configure(sync_conn).get_current_revision()
    script = ScriptDirectory.from_config(cfg)
    newest = script.get_current_head()
    if current == newest:
        return
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        raise SchemaMismatch(
            f"the database schema is at revision {current}, newer than this Roost knows "
            f"(up to {newest}): a newer Roost has upgraded it. Run the same Roost version on "
            "every replica (upgrade this one)."
        )
    if current is not None and not allow_upgrade:
        raise SchemaMismatch(
            f"the database schema is at revision {current}, older than this Roost needs "
            f"({newest}). Stop the older replicas, then upgrade the schema once with "
            "`roost server --database URL --upgrade-db` (then start the others on this version)."
        )
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
