"""Backups on the plane: keys only for the environment's runner, the record, release, retention,
and placement that follows the backup."""

from typing import Any

from sqlalchemy import select

from roost.server.services import backup_retention
from roost.server.store.rows import AuditEventRow
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness

HERE = "file://machine-a/var/lib/roost/backups"
ELSEWHERE = "file://machine-b/var/lib/roost/backups"


def snap(n: int) -> str:
    return f"{n:064x}"


async def runner(plane: PlaneHarness, name: str, location: str = HERE) -> FakeRunner:
    return await FakeRunner(plane, name, backup_location=location).register()


async def env_on(plane: PlaneHarness, r: FakeRunner, **body: Any) -> dict[str, Any]:
    body.setdefault("spec", {})["runner"] = r.name
    created = await plane.admin.post("/api/v1/environments", json=body)
    assert created.status_code == 201, created.text
    doc: dict[str, Any] = created.json()
    assert doc["status"]["runner_id"] == r.id
    return doc


async def record(r: FakeRunner, env_id: str, n: int, **extra: Any) -> Any:
    access = (await r.api.get(f"/api/v1/environments/{env_id}/backups/access")).json()
    body = {"snapshot": snap(n), "repository": access["repository"], "location": HERE,
            "size_bytes": 100 * n, **extra}  # fmt: skip
    return await r.api.post(f"/api/v1/environments/{env_id}/backups", json=body)


async def test_only_the_assigned_runner_gets_the_key_and_refusals_are_audited(
    plane: PlaneHarness,
) -> None:
    mine, other = await runner(plane, "mine"), await runner(plane, "other")
    env = await env_on(plane, mine)
    env_id = env["metadata"]["id"]
    got = await mine.api.get(f"/api/v1/environments/{env_id}/backups/access")
    assert got.status_code == 200, got.text
    access = got.json()
    assert access["repository"] == f"org-{env['metadata']['organization_id']}"
    assert len(access["password"]) >= 40 and access["latest"] is None
    again = (await mine.api.get(f"/api/v1/environments/{env_id}/backups/access")).json()
    assert again["password"] == access["password"]  # made once, on first use

    for client in (other.api, plane.admin):
        refused = await client.get(f"/api/v1/environments/{env_id}/backups/access")
        assert refused.status_code == 404
    async with plane.ctx.db.read() as session:
        denied = list(await session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "backup.access",
                                        AuditEventRow.outcome == "denied")
        ))  # fmt: skip
    assert len(denied) == 2


async def test_each_project_has_its_own_repository_and_may_keep_the_writable_layer(
    plane: PlaneHarness,
) -> None:
    r = await runner(plane, "r1")
    project = await plane.admin.post(
        "/api/v1/projects", json={"name": "web", "settings": {"keep_writable_layer": True}}
    )
    assert project.status_code == 201, project.text
    with_project = await env_on(plane, r, project="web")
    plain = await env_on(plane, r)
    a = await r.api.get(f"/api/v1/environments/{with_project['metadata']['id']}/backups/access")
    b = await r.api.get(f"/api/v1/environments/{plain['metadata']['id']}/backups/access")
    assert a.json()["repository"] == f"project-{project.json()['id']}"
    assert a.json()["keep_writable_layer"] is True
    assert b.json()["repository"].startswith("org-")
    assert b.json()["keep_writable_layer"] is True  # the default: the environment as it was left
    assert a.json()["password"] != b.json()["password"]


async def test_records_are_idempotent_and_keep_the_latest_two(plane: PlaneHarness) -> None:
    r = await runner(plane, "r1")
    env_id = (await env_on(plane, r))["metadata"]["id"]
    for n in (1, 2, 3):
        assert (await record(r, env_id, n)).status_code == 201
    assert (await record(r, env_id, 3)).status_code == 201  # a retry after a lost answer
    listed = (await plane.admin.get(f"/api/v1/environments/{env_id}/backups")).json()
    assert [(b["id"], b["state"]) for b in listed] == [
        (snap(3), "kept"), (snap(2), "kept"), (snap(1), "deleting"),
    ]  # fmt: skip
    access = (await r.api.get(f"/api/v1/environments/{env_id}/backups/access")).json()
    assert access["latest"]["id"] == snap(3)
    due = (await r.api.get(f"/api/v1/runners/{r.id}/backup-deletions")).json()["items"]
    assert [i["snapshots"] for i in due] == [[snap(1)]] and due[0]["password"]


async def test_release_only_for_the_latest_backup_of_a_stopped_environment(
    plane: PlaneHarness,
) -> None:
    r = await runner(plane, "r1")
    env_id = (await env_on(plane, r))["metadata"]["id"]
    await record(r, env_id, 1)
    await record(r, env_id, 2)
    release = f"/api/v1/environments/{env_id}/release"
    running = await r.api.post(release, json={"snapshot": snap(2)})
    assert running.status_code == 409  # it should run here
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    old = await r.api.post(release, json={"snapshot": snap(1)})
    assert old.status_code == 409 and old.json()["error"]["code"] == "backup_not_latest"
    r.version = 0
    await r.watch()
    done = await r.api.post(release, json={"snapshot": snap(2)})
    assert done.status_code == 200, done.text
    status = done.json()["status"]
    assert status["runner_id"] is None and status["phase"] == "stopped"
    assert snap(2)[:8] in status["message"]
    events = await r.watch()
    assert [e["object"] for e in events if e["object_id"] == env_id] == [None]  # gone from it
    assert (await r.api.post(release, json={"snapshot": snap(2)})).status_code == 404


async def test_start_goes_only_to_runners_that_reach_the_backup(plane: PlaneHarness) -> None:
    a = await runner(plane, "a")
    far = await runner(plane, "far", location=ELSEWHERE)
    env_id = (await env_on(plane, a))["metadata"]["id"]
    await record(a, env_id, 1)
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    assert (await a.api.post(f"/api/v1/environments/{env_id}/release",
                             json={"snapshot": snap(1)})).status_code == 200  # fmt: skip
    env = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    env["spec"].update(runner="far", desired_phase="running")
    await plane.admin.put(f"/api/v1/environments/{env_id}/spec", json={"spec": env["spec"]})
    await plane.schedule()
    doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert doc["status"]["runner_id"] is None
    assert "cannot reach the environment's backup" in doc["status"]["message"]
    env = doc
    env["spec"]["runner"] = None
    await plane.admin.put(f"/api/v1/environments/{env_id}/spec", json={"spec": env["spec"]})
    await plane.schedule()
    doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert doc["status"]["runner_id"] == a.id and far.id != a.id


async def test_backups_of_a_deleted_environment_go_after_the_retention(plane: PlaneHarness) -> None:
    r = await runner(plane, "r1")
    far = await runner(plane, "far", location=ELSEWHERE)
    env_id = (await env_on(plane, r))["metadata"]["id"]
    await record(r, env_id, 1)
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await r.api.post(f"/api/v1/environments/{env_id}/release", json={"snapshot": snap(1)})
    await plane.admin.delete(f"/api/v1/environments/{env_id}")
    await plane.lifecycle()  # never placed again: removed at once
    assert (await plane.admin.get(f"/api/v1/environments/{env_id}")).status_code == 404

    assert await backup_retention.mark_orphans(plane.ctx) == 1
    deletions = f"/api/v1/runners/{r.id}/backup-deletions"
    assert (await r.api.get(deletions)).json()["items"] == []  # within the retention
    plane.clock.advance(plane.ctx.settings.backup_retention_seconds + 1)
    assert (await far.api.get(f"/api/v1/runners/{far.id}/backup-deletions")).json()["items"] == []
    items = (await r.api.get(deletions)).json()["items"]
    assert [i["snapshots"] for i in items] == [[snap(1)]]
    assert (await far.api.get(deletions)).status_code == 404  # not its runner id
    done = await r.api.post(deletions, json={"snapshots": [snap(1)]})
    assert done.status_code == 204, done.text
    assert (await r.api.get(deletions)).json()["items"] == []


async def test_a_backup_can_be_asked_for_now_by_whoever_may_stop(plane: PlaneHarness) -> None:
    """``roost env backup ID``: a failed backup had no retry but its back-off timer."""
    r = await runner(plane, "r1")
    env_id = (await env_on(plane, r))["metadata"]["id"]
    path = f"/api/v1/environments/{env_id}/backup"
    asked = await plane.admin.post(path)
    assert asked.status_code == 200, asked.text
    assert asked.json()["spec"]["backup_requested"] == 1
    assert (await plane.admin.post(path)).json()["spec"]["backup_requested"] == 2
    stranger = await plane.user("stranger")
    assert (await stranger.post(path)).status_code == 404
    assert (await r.api.post(path)).status_code == 404  # runners do not change specs
    await record(r, env_id, 1)
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    r.version = 0
    await r.watch()
    await r.api.post(f"/api/v1/environments/{env_id}/release", json={"snapshot": snap(1)})
    released = await plane.admin.post(path)
    assert released.status_code == 409, released.text
    assert "nothing to back up" in released.json()["error"]["message"]
    assert snap(1)[:8] in released.json()["error"]["message"]
