"""``roost doctor``: a plane's database and a runner host, checked, with what to fix."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from roost.runner.doctor import clock_skew, free_disk
from roost.server.store.db import Database
from tests.support.live import run_cli
from tests.support.plane import plane_harness
from tests.support.postgres import Cluster


def test_doctor_checks_a_plane_database(tmp_path: Path, postgres: Cluster) -> None:
    url = postgres.url(asyncio.run(postgres.create_database()))

    async def install() -> None:
        async with plane_harness(tmp_path, url) as plane:
            await plane.admin.post("/api/v1/runners/registration-tokens", json={})

    asyncio.run(install())
    result = run_cli("doctor", "--database", url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   database reachable" in result.stdout and "newest revision" in result.stdout

    async def age() -> None:
        db = Database(url)
        async with db.write_engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        await db.dispose()

    asyncio.run(age())
    result = run_cli("doctor", "--database", url)
    assert result.returncode == 1
    assert "FIX  schema at revision 0001" in result.stdout and "--upgrade-db" in result.stdout

    postgres_down = url.replace(str(postgres.port), "1")
    result = run_cli("doctor", "--database", postgres_down)
    assert result.returncode == 1 and "FIX  cannot reach the database" in result.stdout


def test_runner_host_findings_say_what_to_fix(tmp_path: Path) -> None:
    assert free_disk(tmp_path / "missing" / "dir").what.endswith(f"under {tmp_path}/missing/dir")
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert clock_skew("Thu, 01 Jan 2026 12:00:02 GMT", now).ok
    skewed = clock_skew("Thu, 01 Jan 2026 11:58:00 GMT", now)
    assert not skewed.ok and "120 s off" in skewed.what and "time sync" in skewed.fix
    result = run_cli("doctor", "--runner", str(tmp_path))
    assert ("ok   " in result.stdout) and (result.returncode == 0 or "FIX  " in result.stdout), (
        result.stdout
    )
