"""``roost server migrate-db``: an installation moves from SQLite to PostgreSQL, nothing lost."""

from pathlib import Path
from typing import Any

import httpx

from tests.support.fake_runner import FakeRunner
from tests.support.live import run_cli
from tests.support.plane import PlaneHarness, plane_harness
from tests.support.postgres import Cluster


async def snapshot(plane: PlaneHarness, user: httpx.AsyncClient) -> dict[str, Any]:
    """What users would check after the move, as the API shows it."""
    envs = (await plane.admin.get("/api/v1/environments")).json()
    return {
        "envs": envs,
        "users": (await plane.admin.get("/api/v1/users")).json(),
        "runners": (await plane.admin.get("/api/v1/runners")).json(),
        "audit": (await plane.admin.get("/api/v1/audit")).json(),
        "mine": (await user.get("/api/v1/environments")).json(),
        "secrets": (await user.get("/api/v1/secrets")).json(),
    }


async def test_an_installation_moves_to_postgresql_with_nothing_lost(
    tmp_path: Path, postgres: Cluster
) -> None:
    async with plane_harness(tmp_path) as plane:
        runner = await FakeRunner(plane, "r1").register()
        alice = await plane.user("alice")
        alice_token = alice.headers["Authorization"]
        r = await alice.post("/api/v1/secrets", json={"name": "TOKEN", "value": "s3cr3t"})
        assert r.status_code == 200, r.text
        for name in ("one", "two"):
            r = await alice.post("/api/v1/environments", json={"name": name})
            assert r.status_code == 201, r.text
        await plane.schedule()
        await runner.reconcile()
        before = await snapshot(plane, alice)
        since = runner.version
    target = postgres.url(await postgres.create_database())
    result = run_cli("server", "migrate-db", "--from", str(tmp_path / "roost.db"), "--to", target)
    assert result.returncode == 0, result.stderr
    assert "copied" in result.stderr and "s3cr3t" not in result.stderr

    async with plane_harness(tmp_path, target) as plane:
        alice = plane.client(alice_token.removeprefix("Bearer "))
        assert await snapshot(plane, alice) == before
        envs = before["envs"]["items"]
        assert {e["status"]["phase"] for e in envs} == {"running"}
        # the runner's credential still works, and its watch resumes where it left off
        moved = FakeRunner(plane, "r1")
        moved.id, moved.token, moved.version = runner.id, runner.token, since
        moved.http = plane.client(runner.token)
        assert (await moved.heartbeat()).status_code == 200
        r = await alice.post(f"/api/v1/environments/{envs[0]['metadata']['id']}/stop")
        assert r.status_code == 200, r.text
        assert await moved.reconcile() == ["stopping", "stopped"]
        values = await moved.api.get(
            f"/api/v1/environments/{envs[1]['metadata']['id']}/secrets/values"
        )
        assert values.json()["items"][0]["value"] == "s3cr3t"


async def test_migrate_db_refuses_a_target_that_holds_an_installation(
    tmp_path: Path, postgres: Cluster
) -> None:
    target = postgres.url(await postgres.create_database())
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    async with plane_harness(tmp_path / "a", target):
        pass  # first start: an admin, an organization
    async with plane_harness(tmp_path / "b"):
        pass
    result = run_cli(
        "server", "migrate-db", "--from", str(tmp_path / "b" / "roost.db"), "--to", target
    )
    assert result.returncode == 1
    assert "already has rows" in result.stderr and "empty database" in result.stderr
