"""Activity and idle stop, on the plane's injected clock."""

from typing import Any

from roost.server.controllers.idle import IdleStop
from tests.server.access_support import audit, running_env
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def env_doc(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    return (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()  # type: ignore[no-any-return]


async def idle_pass(plane: PlaneHarness) -> None:
    await IdleStop(plane.ctx).run_once()


async def report(runner: FakeRunner, seconds_ago: dict[str, float]) -> None:
    r = await runner.api.post(
        f"/api/v1/runners/{runner.id}/activity", json={"seconds_ago": seconds_ago}
    )
    assert r.status_code == 204, r.text


async def test_an_idle_environment_stops_through_the_normal_path(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    env = await running_env(plane, runner, plane.admin, timeout_seconds=600)
    env_id, version = env["metadata"]["id"], env["spec"]["spec_version"]
    assert env["status"]["last_activity"] == plane.clock.now().isoformat().replace("+00:00", "Z")

    plane.clock.advance(599)
    await idle_pass(plane)
    assert (await env_doc(plane, env_id))["spec"]["desired_phase"] == "running"
    plane.clock.advance(2)
    await idle_pass(plane)
    doc = await env_doc(plane, env_id)
    assert (doc["spec"]["desired_phase"], doc["spec"]["spec_version"]) == ("stopped", version + 1)
    [stop] = await audit(plane, "environment.stop")
    assert (stop["actor"], stop["details"]["reason"]) == ("system", "idle")
    assert stop["details"]["idle_seconds"] == 601
    assert await runner.reconcile() == ["stopping", "stopped"]  # the runner's usual stop

    await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    await runner.reconcile()
    await idle_pass(plane)  # started again: the idle clock starts afresh
    assert (await env_doc(plane, env_id))["spec"]["desired_phase"] == "running"


async def test_activity_keeps_it_running(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    env = await running_env(plane, runner, plane.admin, timeout_seconds=600)
    env_id = env["metadata"]["id"]
    plane.clock.advance(500)
    await report(runner, {env_id: 30.0})  # SSH traffic 30 s ago, in plane time
    doc = await env_doc(plane, env_id)
    assert doc["status"]["last_activity"].startswith("2026-01-01T00:07:50")
    plane.clock.advance(500)
    await idle_pass(plane)
    assert (await env_doc(plane, env_id))["spec"]["desired_phase"] == "running"
    plane.clock.advance(200)
    await idle_pass(plane)
    assert (await env_doc(plane, env_id))["spec"]["desired_phase"] == "stopped"


async def test_reports_only_move_forward_and_only_for_the_runners_own(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    other = await FakeRunner(plane, name="r2").register()
    env = await running_env(plane, runner, plane.admin, runner=runner.id)
    env_id = env["metadata"]["id"]
    before = (await env_doc(plane, env_id))["status"]
    plane.clock.advance(100)
    await report(other, {env_id: 0})
    await report(runner, {env_id: 1000})  # older than what is known
    after = (await env_doc(plane, env_id))["status"]
    assert after["last_activity"] == before["last_activity"]
    assert after["status_version"] == before["status_version"]  # no write for nothing


async def test_the_organization_caps_the_timeout(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    await plane.admin.patch(
        "/api/v1/organizations/default", json={"policy": {"max_idle_timeout_seconds": 300}}
    )
    capped = await running_env(plane, runner, plane.admin, timeout_seconds=3600)
    default = await running_env(plane, runner, plane.admin)
    plane.clock.advance(301)
    await idle_pass(plane)
    for env in (capped, default):
        assert (await env_doc(plane, env["metadata"]["id"]))["spec"]["desired_phase"] == "stopped"


async def test_without_any_timeout_nothing_stops(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    env = await running_env(plane, runner, plane.admin)
    plane.clock.advance(30 * 86400)
    await idle_pass(plane)
    assert (await env_doc(plane, env["metadata"]["id"]))["spec"]["desired_phase"] == "running"
