"""A runner gone for good: declared lost (admin), or by an organization's policy after a
while (off by default); deleting a runner hands its environments back too; drain moves them."""

from typing import Any

from tests.server.test_backups import env_on, record, runner
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def get(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    r = await plane.admin.get(f"/api/v1/environments/{env_id}")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def silent(plane: PlaneHarness, gone: FakeRunner, alive: FakeRunner, seconds: float) -> None:
    """``gone`` stops heartbeating for ``seconds`` while ``alive`` keeps on."""
    plane.clock.advance(seconds)
    await alive.heartbeat()
    await plane.health()


async def test_declared_lost_environments_stop_at_their_last_backup(plane: PlaneHarness) -> None:
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    backed = (await env_on(plane, r1))["metadata"]["id"]
    never = (await env_on(plane, r1))["metadata"]["id"]
    deleting = (await env_on(plane, r1))["metadata"]["id"]
    assert (await record(r1, backed, 1)).status_code == 201
    await plane.admin.delete(f"/api/v1/environments/{deleting}")

    refused = await plane.admin.post("/api/v1/runners/r1/lost")
    assert refused.status_code == 409 and "drain" in refused.text  # online: not lost
    await silent(plane, r1, r2, 120)
    assert (await get(plane, backed))["status"]["phase"] == "unknown"  # stranded, until...

    r = await plane.admin.post("/api/v1/runners/r1/lost")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "lost"
    doc = await get(plane, backed)
    assert doc["status"]["phase"] == "stopped" and doc["status"]["runner_id"] is None
    assert doc["spec"]["desired_phase"] == "stopped" and doc["spec"]["runner"] is None
    message = doc["status"]["message"]
    assert "r1 was lost" in message and f"{1:064x}"[:8] in message and "UTC" in message
    assert "never backed up" in (await get(plane, never))["status"]["message"]
    assert (await plane.admin.get(f"/api/v1/environments/{deleting}")).status_code == 404

    assert (await plane.admin.post(f"/api/v1/environments/{backed}/start")).status_code == 200
    await plane.schedule()
    assert (await get(plane, backed))["status"]["runner_id"] == r2.id  # restored elsewhere
    assert (await plane.admin.delete(f"/api/v1/environments/{never}")).status_code == 200


async def test_the_org_policy_restores_elsewhere_after_its_delay(plane: PlaneHarness) -> None:
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    assert (await record(r1, env_id, 1)).status_code == 201
    await silent(plane, r1, r2, 200)
    await plane.loss()
    assert (await get(plane, env_id))["status"]["runner_id"] == r1.id  # off by default

    r = await plane.admin.patch(
        "/api/v1/organizations/default", json={"policy": {"restore_lost_after_seconds": 300}}
    )
    assert r.status_code == 200, r.text
    await plane.loss()
    assert (await get(plane, env_id))["status"]["runner_id"] == r1.id  # 200 s < 300 s
    await silent(plane, r1, r2, 150)
    await plane.loss()
    doc = await get(plane, env_id)
    assert doc["status"]["runner_id"] is None and doc["spec"]["desired_phase"] == "running"
    assert "r1 was lost" in doc["status"]["message"]
    await plane.schedule()
    assert (await get(plane, env_id))["status"]["runner_id"] == r2.id


async def test_deleting_a_runner_leaves_nothing_dangling(plane: PlaneHarness) -> None:
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    env_id = (await env_on(plane, r1))["metadata"]["id"]
    refused = await plane.admin.delete("/api/v1/runners/r1")
    assert refused.status_code == 409 and "drain" in refused.text
    await silent(plane, r1, r2, 120)
    assert (await plane.admin.delete("/api/v1/runners/r1")).status_code == 204
    doc = await get(plane, env_id)
    assert doc["status"]["phase"] == "stopped" and doc["status"]["runner_id"] is None
    assert (await plane.admin.delete(f"/api/v1/environments/{env_id}")).status_code == 200
    await plane.lifecycle()
    assert (await plane.admin.get(f"/api/v1/environments/{env_id}")).status_code == 404


async def test_drain_moves_everything_off_and_takes_no_new_work(plane: PlaneHarness) -> None:
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    running = (await env_on(plane, r1))["metadata"]["id"]
    stopped = (await env_on(plane, r1))["metadata"]["id"]
    await plane.admin.post(f"/api/v1/environments/{stopped}/stop")

    r = await plane.admin.post("/api/v1/runners/r1/drain")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["moving"]) == sorted([running, stopped]) and not r.json()["stuck"]
    assert r.json()["runner"]["draining"] is True
    doc = await get(plane, running)
    assert doc["spec"]["runner"] == "r2" and doc["spec"]["desired_phase"] == "running"
    assert doc["status"]["conditions"]["move"]["phase"] == "progressing"
    assert (await get(plane, stopped))["spec"]["desired_phase"] == "stopped"

    created = await plane.admin.post("/api/v1/environments", json={"spec": {}})
    assert created.json()["status"]["runner_id"] == r2.id  # no new work on r1
    pinned = await plane.admin.post("/api/v1/environments", json={"spec": {"runner": "r1"}})
    assert "draining" in pinned.json()["status"]["message"]
    undone = await plane.admin.post("/api/v1/runners/r1/drain", params={"undo": True})
    assert undone.json()["runner"]["draining"] is False


async def test_a_class_policy_overrides_the_organizations(plane: PlaneHarness) -> None:
    r = await plane.admin.post(
        "/api/v1/classes",
        json={"name": "precious", "resources": {"cpu": 1, "restore_lost_after_seconds": 100}},
    )
    assert r.status_code == 201, r.text
    r1, r2 = await runner(plane, "r1"), await runner(plane, "r2")
    plain = (await env_on(plane, r1))["metadata"]["id"]
    precious = (await env_on(plane, r1, spec={"class": "precious"}))["metadata"]["id"]
    await silent(plane, r1, r2, 150)
    await plane.loss()
    assert (await get(plane, precious))["status"]["runner_id"] is None
    assert (await get(plane, plain))["status"]["runner_id"] == r1.id  # the org's: off
