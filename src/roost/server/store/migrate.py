"""Alembic migrations, run programmatically at server start (no alembic.ini needed)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from roost.server.store.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision."""
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_upgrade_sync, db.url)


def _upgrade_sync(sync_conn: Connection, url: str, /) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
