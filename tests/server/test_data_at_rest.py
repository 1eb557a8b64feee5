"""The plane's data at rest: a private data directory, private database files, and restic
repository passwords sealed like secrets (a reader of the database learns none)."""

import stat
from pathlib import Path

import pytest

from roost.core.clock import FakeClock
from roost.server.app import start_plane, stop_plane
from roost.server.settings import Settings
from roost.server.store.rows import BackupRepositoryRow
from tests.server.test_backups import env_on, runner
from tests.support.plane import PlaneHarness, plane_harness


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_and_its_directory_are_private(tmp_path: Path) -> None:
    data = tmp_path / "plane"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    async with plane_harness(data) as plane:
        await plane.admin.post("/api/v1/tokens", json={})  # the WAL has something in it
        assert mode(data) == 0o700
        files = [p for p in data.iterdir() if p.name.startswith("roost.db")]
        assert {p.name for p in files} >= {"roost.db", "roost.db-wal"}
        for path in files:
            assert mode(path) == 0o600, path


async def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "plane"
    async with plane_harness(data):
        pass
    data.chmod(0o755)
    (data / "roost.db").chmod(0o644)
    settings = Settings(database_url=f"sqlite:///{data / 'roost.db'}", data_dir=data)
    plane = await start_plane(settings, FakeClock(), controllers=False)
    try:
        assert (mode(data), mode(data / "roost.db")) == (0o700, 0o600)
    finally:
        await stop_plane(plane)


async def test_a_plane_with_its_runner_inside_keeps_the_directory_traversable(
    tmp_path: Path,
) -> None:
    data = tmp_path / "up"
    settings = Settings(database_url=f"sqlite:///{data / 'roost.db'}", data_dir=data,
                        runner_inside=True)  # fmt: skip
    plane = await start_plane(settings, FakeClock(), controllers=False)
    try:  # the runner's sandboxed clones reach runner/workspaces/<id>; nothing is listable
        assert (mode(data), mode(data / "roost.db")) == (0o711, 0o600)
    finally:
        await stop_plane(plane)


async def test_repository_passwords_are_sealed_at_rest(plane: PlaneHarness) -> None:
    r = await runner(plane, "r1")
    env_id = (await env_on(plane, r))["metadata"]["id"]
    access = (await r.api.get(f"/api/v1/environments/{env_id}/backups/access")).json()
    password = access["password"]
    assert len(password) >= 40
    async with plane.ctx.db.read() as session:
        row = await session.get(BackupRepositoryRow, access["repository"])
        assert row is not None and password not in repr(vars(row))
    db = plane.ctx.settings.data_dir
    for path in db.iterdir():
        if path.name.startswith("roost.db"):
            assert password.encode() not in path.read_bytes()
    again = (await r.api.get(f"/api/v1/environments/{env_id}/backups/access")).json()
    assert again["password"] == password  # the same key every time


@pytest.fixture(autouse=True)
def _private_parent(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
