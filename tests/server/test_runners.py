"""Runner protocol, plane side: registration, heartbeats, status reports, offline detection."""

from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def test_registration_token_is_one_time(plane: PlaneHarness) -> None:
    reg = (await plane.admin.post("/api/v1/runners/registration-tokens", json={})).json()
    body = {"registration_token": reg["secret"], "name": "r1"}
    first = await plane.client().post("/api/v1/runners/register", json=body)
    assert first.status_code == 201
    again = await plane.client().post("/api/v1/runners/register", json=body | {"name": "r2"})
    assert again.status_code == 401
    assert "revoked" in again.json()["error"]["message"]


async def test_registration_needs_a_registration_token(plane: PlaneHarness) -> None:
    user_token = (await plane.admin.post("/api/v1/tokens", json={})).json()["secret"]
    r = await plane.client().post(
        "/api/v1/runners/register", json={"registration_token": user_token, "name": "r1"}
    )
    assert r.status_code == 401
    r = await plane.client().post(
        "/api/v1/runners/register", json={"registration_token": "roost_x_y", "name": "r1"}
    )
    assert r.status_code == 401


async def test_runner_credential_is_scoped_to_the_runner(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    assert (await runner.heartbeat()).status_code == 200
    assert (await runner.api.post("/api/v1/environments", json={})).status_code == 404
    assert (await runner.api.get("/api/v1/environments")).json()["items"] == []
    other = await FakeRunner(plane, name="r2").register()
    r = await runner.api.post(f"/api/v1/runners/{other.id}/heartbeat", json={"info": {}})
    assert r.status_code == 404


async def test_re_registering_a_name_keeps_the_id_and_revokes_the_old_credential(
    plane: PlaneHarness,
) -> None:
    old = await FakeRunner(plane, name="box").register()
    new = await FakeRunner(plane, name="box").register()
    assert new.id == old.id
    assert (await old.heartbeat()).status_code == 401
    assert (await new.heartbeat()).status_code == 200


async def test_status_reports_only_from_the_assigned_runner(plane: PlaneHarness) -> None:
    r1 = await FakeRunner(plane, name="r1").register()
    r2 = await FakeRunner(plane, name="r2", capacity={"cpu": 0, "memory_mib": 0}).register()
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.schedule()
    env = (await plane.admin.get(f"/api/v1/environments/{env['metadata']['id']}")).json()
    assert env["status"]["runner_id"] == r1.id
    assert (await r2.report(env, "running")).status_code == 404
    ok = await r1.report(
        env, "running", conditions={"machine": {"phase": "ready", "message": "up"}}
    )
    assert ok.status_code == 200
    assert ok.json()["status"]["observed_spec_version"] == 1
    assert ok.json()["status"]["conditions"]["machine"]["phase"] == "ready"
    bad = await r1.api.put(
        f"/api/v1/environments/{env['metadata']['id']}/status",
        json={"observed_spec_version": 99, "phase": "running"},
    )
    assert bad.status_code == 400


async def test_missed_heartbeats_mark_runner_offline_and_environments_unknown(
    plane: PlaneHarness,
) -> None:
    runner = await FakeRunner(plane).register()
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.schedule()
    await runner.reconcile()
    plane.clock.advance(10)
    await runner.heartbeat()
    await plane.health()
    listed = (await plane.admin.get("/api/v1/runners")).json()["items"]
    assert listed[0]["state"] == "online"

    plane.clock.advance(31)
    await plane.health()
    assert (await plane.admin.get(f"/api/v1/runners/{runner.id}")).json()["state"] == "offline"
    got = (await plane.admin.get(f"/api/v1/environments/{env['metadata']['id']}")).json()
    assert got["status"]["phase"] == "unknown"
    assert "runner r1 stopped responding" in got["status"]["message"]
    assert got["status"]["conditions"]["machine"]["phase"] == "unknown"

    # it comes back: online again, and its next report restores the real phase
    await runner.heartbeat()
    assert (await plane.admin.get(f"/api/v1/runners/{runner.id}")).json()["state"] == "online"
    back = await runner.report(got, "running")
    assert back.json()["status"]["phase"] == "running"
