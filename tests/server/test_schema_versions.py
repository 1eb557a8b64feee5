"""A plane refuses to start on a schema it does not match, and says what to do."""

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from roost.core.clock import FakeClock
from roost.server.app import start_plane, stop_plane
from roost.server.settings import Settings
from roost.server.store.db import Database
from roost.server.store.migrate import SchemaMismatch, alembic_config
from tests.server.test_migrations import REVISIONS
from tests.support.live import free_port, run_cli
from tests.support.plane import plane_harness
from tests.support.postgres import Cluster


async def execute(url: str, sql: str) -> None:
    db = Database(url)
    try:
        async with db.write_engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await db.dispose()


async def migrate_to(url: str, revision: str) -> None:
    db = Database(url)

    def run(sync):  # type: ignore[no-untyped-def]
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = sync
        command.upgrade(cfg, revision)

    try:
        async with db.write_engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await db.dispose()


async def test_an_older_replica_refuses_a_schema_a_newer_roost_made(
    database_url: str, tmp_path: Path
) -> None:
    async with plane_harness(tmp_path, database_url):
        pass
    await execute(database_url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaMismatch, match=r"9999, newer than this Roost knows.*upgrade this"):
        async with plane_harness(tmp_path, database_url):
            pass


async def test_a_newer_replica_refuses_an_older_postgresql_schema_until_told(
    postgres: Cluster, tmp_path: Path
) -> None:
    url = postgres.url(await postgres.create_database())
    await migrate_to(url, REVISIONS[-2])
    settings = Settings(database_url=url, data_dir=tmp_path)
    with pytest.raises(SchemaMismatch, match=r"older than this Roost needs.*--upgrade-db"):
        await start_plane(settings, FakeClock(), controllers=False)

    result = run_cli(
        "server", "--database", url, "--data-dir", str(tmp_path), "--listen",
        f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert result.returncode != 0  # uvicorn's "startup failed" status
    assert "older than this Roost needs" in result.stderr and "--upgrade-db" in result.stderr

    upgraded = Settings(database_url=url, data_dir=tmp_path, upgrade_db=True)
    plane = await start_plane(upgraded, FakeClock(), controllers=False)
    await stop_plane(plane)
    plane = await start_plane(settings, FakeClock(), controllers=False)  # at head: starts as is
    await stop_plane(plane)
