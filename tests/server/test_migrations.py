"""Migrations: the newest revision matches the models, and old data is carried forward."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from roost.server.store.db import Database
from roost.server.store.migrate import alembic_config, upgrade
from roost.server.store.rows import Base


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    await upgrade(db)
    async with db.write_engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await db.dispose()
    assert diff == []


async def test_0002_fills_resource_columns_from_existing_specs(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")

    def to(revision: str):  # type: ignore[no-untyped-def]
        def run(sync):  # type: ignore[no-untyped-def]
            cfg = alembic_config(db.url)
            cfg.attributes["connection"] = sync
            command.upgrade(cfg, revision)

        return run

    async with db.write_engine.begin() as conn:
        await conn.run_sync(to("0001"))
        now = "2026-01-01 00:00:00"
        await conn.execute(text(
            "INSERT INTO organizations (id, name, policy, created_at) VALUES ('o', 'o', '{}', :n)"
        ), {"n": now})  # fmt: skip
        await conn.execute(text(
            "INSERT INTO users (id, name, is_admin, created_at) VALUES ('u', 'u', 0, :n)"
        ), {"n": now})  # fmt: skip
        await conn.execute(
            text(
                "INSERT INTO environments (id, organization_id, owner_id, name, spec, spec_version,"
                " desired_phase, status, status_version, phase, created_at, updated_at,"
                " resource_version) VALUES ('e', 'o', 'u', 'e', :spec, 1, 'running', '{}', 0,"
                " 'pending', :n, :n, 0)"
            ),
            {"spec": '{"resources": {"cpu": 1.5, "memory_mib": 512, "disk_gib": 7}}', "n": now},
        )
        await conn.run_sync(to("head"))
        row = (await conn.execute(text("SELECT cpu, memory_mib, disk_gib FROM environments"))).one()
    await db.dispose()
    assert tuple(row) == (1.5, 512, 7)
