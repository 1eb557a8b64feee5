"""Migrations on SQLite and PostgreSQL: the newest revision matches the models, every earlier
revision upgrades to it, and old data is carried forward."""

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from roost.server.store.db import Database
from roost.server.store.migrate import alembic_config
from roost.server.store.rows import Base, UTCDateTime

REVISIONS = [
    s.revision
    for s in reversed(list(ScriptDirectory.from_config(alembic_config("")).walk_revisions()))
]


async def migrate_to(db: Database, conn: AsyncConnection, revision: str) -> None:
    def run(sync):  # type: ignore[no-untyped-def]
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = sync
        command.upgrade(cfg, revision)

    await conn.run_sync(run)


def at(sql: str) -> TextClause:
    """``sql`` with ``:n`` bound as the plane binds timestamps (aware UTC on every backend)."""
    return text(sql).bindparams(bindparam("n", type_=UTCDateTime))


async def differences(conn: AsyncConnection) -> list[object]:
    return await conn.run_sync(
        lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
    )


@pytest.mark.parametrize("start", REVISIONS)
async def test_every_revision_upgrades_to_one_that_matches_the_models(
    blank_database_url: str, start: str
) -> None:
    db = Database(blank_database_url)
    try:
        async with db.write_engine.begin() as conn:
            await migrate_to(db, conn, start)
            await migrate_to(db, conn, "head")
            assert await differences(conn) == []
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await db.dispose()
    assert version == REVISIONS[-1]


async def test_0002_fills_resource_columns_from_existing_specs(blank_database_url: str) -> None:
    db = Database(blank_database_url)
    now = {"n": datetime(2026, 1, 1, tzinfo=UTC)}
    try:
        async with db.write_engine.begin() as conn:
            await migrate_to(db, conn, "0001")
            await conn.execute(at(
                "INSERT INTO organizations (id, name, policy, created_at)"
                " VALUES ('o', 'o', '{}', :n)"
            ), now)  # fmt: skip
            await conn.execute(at(
                "INSERT INTO users (id, name, is_admin, created_at) VALUES ('u', 'u', false, :n)"
            ), now)  # fmt: skip
            await conn.execute(
                at(
                    "INSERT INTO environments (id, organization_id, owner_id, name, spec,"
                    " spec_version, desired_phase, status, status_version, phase, created_at,"
                    " updated_at, resource_version) VALUES ('e', 'o', 'u', 'e', :spec, 1,"
                    " 'running', '{}', 0, 'pending', :n, :n, 0)"
                ),
                {"spec": '{"resources": {"cpu": 1.5, "memory_mib": 512, "disk_gib": 7}}', **now},
            )
            await migrate_to(db, conn, "head")
            query = text("SELECT cpu, memory_mib, disk_gib FROM environments")
            row = (await conn.execute(query)).one()
    finally:
        await db.dispose()
    assert tuple(row) == (1.5, 512, 7)
