"""``move``: pin, progress in the ``move`` condition, refusals that say why; a stop during a
move ends ``stopped`` (it used to hang ``pending``, "moving to runner ...")."""

from tests.server.test_backups import env_on, record, runner, snap
from tests.support.plane import PlaneHarness


async def test_stop_during_a_move_ends_stopped_not_pending(plane: PlaneHarness) -> None:
    r1, _ = await runner(plane, "r1"), await runner(plane, "r2")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    moved = await plane.admin.post(f"/api/v1/environments/{env_id}/move", json={"runner": "r2"})
    assert moved.status_code == 200, moved.text
    cond = moved.json()["status"]["conditions"]["move"]
    assert cond["phase"] == "progressing"
    assert cond["message"] == "moving from r1 to r2: stopping and backing up on r1"
    assert moved.json()["spec"]["runner"] == "r2"

    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    assert (await record(r1, env_id, 1)).status_code == 201
    r = await r1.api.post(f"/api/v1/environments/{env_id}/release", json={"snapshot": snap(1)})
    assert r.status_code == 200, r.text
    assert r.json()["status"]["phase"] == "stopped"
    assert r.json()["status"]["runner_id"] is None


async def test_a_moved_environment_is_placed_on_the_target_and_the_move_ends(
    plane: PlaneHarness,
) -> None:
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    await plane.admin.post(f"/api/v1/environments/{env_id}/move", json={"runner": "r2"})
    assert (await record(r1, env_id, 1)).status_code == 201
    r = await r1.api.post(f"/api/v1/environments/{env_id}/release", json={"snapshot": snap(1)})
    assert r.json()["status"]["phase"] == "pending"
    assert "backed up" in r.json()["status"]["conditions"]["move"]["message"]
    await plane.schedule()
    doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert doc["status"]["runner_id"] == r2.id
    assert (await r2.report(doc, "running")).status_code == 200
    doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert doc["status"]["conditions"]["move"]["phase"] == "ready"
    assert doc["status"]["conditions"]["move"]["message"] == "moved from r1 to r2"


async def test_refusals_say_why(plane: PlaneHarness) -> None:
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    plane.clock.advance(120)
    await r1.heartbeat()
    await plane.health()  # r2 is offline now
    refused = await plane.admin.post(f"/api/v1/environments/{env_id}/move", json={"runner": "r2"})
    assert refused.status_code == 409 and "r2 is offline" in refused.text

    await r2.heartbeat()
    plane.clock.advance(120)
    await r2.heartbeat()
    await plane.health()  # r1, where the environment is, is offline
    refused = await plane.admin.post(f"/api/v1/environments/{env_id}/move", json={"runner": "r2"})
    assert refused.status_code == 409
    assert "roost runner lost r1" in refused.json()["error"]["message"]


async def test_an_environment_that_never_ran_can_move(plane: PlaneHarness) -> None:
    """Placed on r1 but never started there: r1 holds nothing and there is no backup, so r1's
    empty release ("") lets it go (it used to stay on r1 for good)."""
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    await plane.admin.post(f"/api/v1/environments/{env_id}/move", json={"runner": "r2"})
    r = await r1.api.post(f"/api/v1/environments/{env_id}/release", json={"snapshot": ""})
    assert r.status_code == 200, r.text
    assert r.json()["status"]["phase"] == "pending" and r.json()["status"]["runner_id"] is None
    await plane.schedule()
    doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    assert doc["status"]["runner_id"] == r2.id


async def test_an_empty_release_is_refused_when_a_backup_exists(plane: PlaneHarness) -> None:
    r1 = await runner(plane, "r1")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    assert (await record(r1, env_id, 1)).status_code == 201
    r = await r1.api.post(f"/api/v1/environments/{env_id}/release", json={"snapshot": ""})
    assert r.status_code == 409
