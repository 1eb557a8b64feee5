"""Backup locations are the admins' word, not a runner's: a runner cannot move itself to
another's location to read its backup records and repository passwords, or delete them."""

from roost.server.services import backup_retention
from tests.server.access_support import audit
from tests.server.test_backups import ELSEWHERE, HERE, env_on, record, runner, snap
from tests.support.plane import PlaneHarness


async def orphaned_backup_at_here(plane: PlaneHarness) -> str:
    r1 = await runner(plane, "r1")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    assert (await record(r1, env_id, 1)).status_code == 201
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    await r1.api.post(f"/api/v1/environments/{env_id}/release", json={"snapshot": snap(1)})
    await plane.admin.delete(f"/api/v1/environments/{env_id}")
    await plane.lifecycle()
    assert await backup_retention.mark_orphans(plane.ctx) == 1
    plane.clock.advance(plane.ctx.settings.backup_retention_seconds + 1)
    return env_id


async def test_a_heartbeat_does_not_move_a_runner_to_another_location(
    plane: PlaneHarness,
) -> None:
    await orphaned_backup_at_here(plane)
    thief = await runner(plane, "r2", location=ELSEWHERE)
    thief.info["backup_location"] = HERE
    assert (await thief.heartbeat()).json()["backup_location"] == ELSEWHERE
    deletions = f"/api/v1/runners/{thief.id}/backup-deletions"
    assert (await thief.api.get(deletions)).json()["items"] == []
    assert (await thief.api.post(deletions, json={"snapshots": [snap(1)]})).status_code == 204
    r1 = next(r for r in (await plane.admin.get("/api/v1/runners")).json()["items"]
              if r["name"] == "r1")  # fmt: skip
    assert r1["backup_location"] == HERE
    assert (await plane.admin.get("/api/v1/audit?limit=500")).status_code == 200


async def test_admins_set_locations_and_deletions_are_audited_per_organization(
    plane: PlaneHarness,
) -> None:
    await orphaned_backup_at_here(plane)
    r2 = await runner(plane, "r2", location=ELSEWHERE)
    path = f"/api/v1/runners/{r2.id}/backup-location"
    member = await plane.user("mallory")
    assert (await member.put(path, json={"backup_location": HERE})).status_code == 403
    assert (await r2.api.put(path, json={"backup_location": HERE})).status_code in (401, 403)
    r = await plane.admin.put(path, json={"backup_location": HERE})
    assert r.status_code == 200, r.text
    assert r.json()["backup_location"] == HERE
    deletions = f"/api/v1/runners/{r2.id}/backup-deletions"
    assert [i["snapshots"] for i in (await r2.api.get(deletions)).json()["items"]] == [[snap(1)]]
    assert (await r2.api.post(deletions, json={"snapshots": [snap(1)]})).status_code == 204
    [deleted] = await audit(plane, "backup.delete")
    org = (await plane.admin.get("/api/v1/organizations/default")).json()
    assert deleted["organization_id"] == org["id"]


async def test_a_runner_records_backups_only_at_its_own_location(plane: PlaneHarness) -> None:
    far = await runner(plane, "far", location=ELSEWHERE)
    env_id = (await env_on(plane, far))["metadata"]["id"]
    r = await record(far, env_id, 1)  # claims HERE, where another runner keeps its backups
    assert r.status_code == 400 and ELSEWHERE in r.json()["error"]["message"], r.text
