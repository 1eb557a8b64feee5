"""Plane controllers: scheduling, lifecycle, leases -- with a fake clock and a fake runner."""

from sqlalchemy import update

from roost.server.controllers import lease
from roost.server.controllers.lifecycle import Lifecycle
from roost.server.controllers.scheduler import Scheduler
from roost.server.store.rows import EnvironmentRow
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def get_env(plane: PlaneHarness, env_id: str) -> dict:  # type: ignore[type-arg]
    r = await plane.admin.get(f"/api/v1/environments/{env_id}")
    return r.json() if r.status_code == 200 else {}


async def test_a_fake_runner_drives_an_environment_through_every_phase(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    env = (await plane.admin.post("/api/v1/environments", json={"name": "life"})).json()
    env_id = env["metadata"]["id"]
    phases = [env["status"]["phase"]]

    await plane.schedule()
    phases += await runner.reconcile()
    await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    phases += await runner.reconcile()
    await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    phases += await runner.reconcile()
    await plane.admin.delete(f"/api/v1/environments/{env_id}")
    phases += await runner.reconcile()
    assert (await get_env(plane, env_id))["status"]["phase"] == "deleted"
    await plane.lifecycle()

    assert phases == [
        "pending",
        "creating",
        "running",
        "stopping",
        "stopped",
        "creating",
        "running",
        "deleting",
        "deleted",
    ]
    assert await get_env(plane, env_id) == {}
    events = await runner.watch()
    assert [e["type"] for e in events] == ["DELETED"]


async def test_delete_waits_for_the_runner(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    env_id = env["metadata"]["id"]
    await plane.schedule()
    await runner.reconcile()
    await plane.admin.delete(f"/api/v1/environments/{env_id}")
    await plane.lifecycle()
    assert (await get_env(plane, env_id))["spec"]["desired_phase"] == "deleted"  # still there
    await runner.reconcile()
    await plane.lifecycle()
    assert await get_env(plane, env_id) == {}


async def test_never_scheduled_environments_are_removed_at_once(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.admin.delete(f"/api/v1/environments/{env['metadata']['id']}")
    await plane.lifecycle()
    assert await get_env(plane, env["metadata"]["id"]) == {}


async def test_scheduler_says_why_nothing_fits(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={"spec": {"class": "large"}})).json()
    env_id = env["metadata"]["id"]
    await plane.schedule()
    got = await get_env(plane, env_id)
    assert "no runners are registered" in got["status"]["message"]

    small = {"cpu": 1, "memory_mib": 2048, "disk_gib": 500, "environments": 10}
    await FakeRunner(plane, name="tiny", capacity=small).register()
    await FakeRunner(plane, name="eu", region="eu").register()
    await plane.admin.put(
        f"/api/v1/environments/{env_id}/spec",
        json={"spec": {**got["spec"], "region": "us"}},
    )
    await plane.schedule()
    got = await get_env(plane, env_id)
    assert got["status"]["phase"] == "pending"
    assert got["status"]["runner_id"] is None
    msg = got["status"]["conditions"]["scheduled"]["message"]
    assert "eu: in region eu" in msg
    assert "tiny: in region default" in msg


async def test_scheduler_honours_runner_and_region_constraints(plane: PlaneHarness) -> None:
    await FakeRunner(plane, name="a").register()
    b = await FakeRunner(plane, name="b", region="eu").register()
    env = (await plane.admin.post("/api/v1/environments", json={"spec": {"runner": "b"}})).json()
    env2 = (await plane.admin.post("/api/v1/environments", json={"spec": {"region": "eu"}})).json()
    await plane.schedule()
    assert (await get_env(plane, env["metadata"]["id"]))["status"]["runner_id"] == b.id
    assert (await get_env(plane, env2["metadata"]["id"]))["status"]["runner_id"] == b.id


async def test_scheduler_respects_capacity(plane: PlaneHarness) -> None:
    cap = {"cpu": 1, "memory_mib": 4096, "disk_gib": 100, "environments": 2}
    runner = await FakeRunner(plane, capacity=cap).register()
    ids = [
        (await plane.admin.post("/api/v1/environments", json={"spec": {"class": "small"}})).json()[
            "metadata"
        ]["id"]
        for _ in range(3)
    ]
    await plane.schedule()
    placed = [(await get_env(plane, i))["status"]["runner_id"] for i in ids]
    assert placed.count(runner.id) == 2
    waiting = await get_env(plane, ids[placed.index(None)])
    assert "at its environment limit" in waiting["status"]["message"]


async def test_create_places_at_once_when_a_runner_fits(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    assert env["status"]["runner_id"] == runner.id  # no scheduler pass needed
    assert env["status"]["conditions"]["scheduled"]["phase"] == "ready"
    events = await runner.watch()
    assert [e["type"] for e in events] == ["ADDED"]


async def test_scheduler_does_not_rewrite_an_unchanged_reason(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.schedule()
    first = await get_env(plane, env["metadata"]["id"])
    await plane.schedule()
    second = await get_env(plane, env["metadata"]["id"])
    assert first["status"]["status_version"] == second["status"]["status_version"]


async def test_a_stale_lease_holders_apply_is_dropped(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()  # fits nowhere yet
    await FakeRunner(plane).register()
    env_id = env["metadata"]["id"]
    db, now = plane.ctx.db, plane.clock.now()
    stale = await lease.acquire(db, EnvironmentRow, env_id, now, 30)
    assert stale is not None
    assert await lease.acquire(db, EnvironmentRow, env_id, now, 30) is None  # held
    plane.clock.advance(31)
    fresh = await lease.acquire(db, EnvironmentRow, env_id, plane.clock.now(), 30)
    assert fresh is not None and fresh != stale

    await Scheduler(plane.ctx).reconcile(env_id, stale)  # a replica that lost its lease
    assert (await get_env(plane, env_id))["status"]["runner_id"] is None
    await Scheduler(plane.ctx).reconcile(env_id, fresh)
    assert (await get_env(plane, env_id))["status"]["runner_id"] is not None


async def test_run_once_skips_rows_leased_by_another_replica(plane: PlaneHarness) -> None:
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await FakeRunner(plane).register()
    token = await lease.acquire(
        plane.ctx.db, EnvironmentRow, env["metadata"]["id"], plane.clock.now(), 30
    )
    assert token is not None
    assert await Scheduler(plane.ctx).run_once() == 0
    plane.clock.advance(31)
    assert await Scheduler(plane.ctx).run_once() == 1


async def test_environments_of_a_removed_runner_are_not_left_dangling(
    plane: PlaneHarness,
) -> None:
    """It used to leave them ``unknown`` for ever; see ``test_runner_loss.py`` for the rest."""
    runner = await FakeRunner(plane).register()
    env = (await plane.admin.post("/api/v1/environments", json={})).json()
    await plane.schedule()
    await runner.reconcile()
    assert (await plane.admin.delete(f"/api/v1/runners/{runner.id}")).status_code == 409
    plane.clock.advance(120)
    await plane.health()
    assert (await plane.admin.delete(f"/api/v1/runners/{runner.id}")).status_code == 204
    await Lifecycle(plane.ctx).run_once()
    got = await get_env(plane, env["metadata"]["id"])
    assert got["status"]["phase"] == "stopped" and got["status"]["runner_id"] is None
    assert "was lost" in got["status"]["message"]


async def test_controllers_survive_a_broken_row(plane: PlaneHarness) -> None:
    bad = (await plane.admin.post("/api/v1/environments", json={})).json()
    good = (await plane.admin.post("/api/v1/environments", json={})).json()
    await FakeRunner(plane).register()
    async with plane.ctx.db.write() as session:
        await session.execute(
            update(EnvironmentRow)
            .where(EnvironmentRow.id == bad["metadata"]["id"])
            .values(spec={"resources": {"cpu": "many"}})
        )
    await plane.schedule()
    assert (await get_env(plane, good["metadata"]["id"]))["status"]["runner_id"] is not None
