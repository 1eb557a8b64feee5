"""Resource readings: a runner sends those of its environments; whoever may see the environment
reads them, oldest first, for a few hours; nobody else can, and no runner speaks for another's."""

from datetime import datetime, timedelta

from tests.server.access_support import running_env
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


def reading(env_id: str, at: datetime, cpu_s: float) -> dict[str, object]:
    return {"environment_id": env_id, "at": at.isoformat(), "cpu_usage_ns": int(cpu_s * 1e9),
            "memory_bytes": 100 << 20, "memory_limit_bytes": 1 << 30}  # fmt: skip


async def test_readings_flow_from_runner_to_owner(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    other = await FakeRunner(plane, name="r2").register()
    alice = await plane.user("alice")
    bob = await plane.user("bob")
    env_id = (await running_env(plane, runner, alice))["metadata"]["id"]
    now = plane.clock.now()
    batch = [reading(env_id, now - timedelta(seconds=s), 100 - s) for s in (30, 15, 0)]
    r = await runner.api.post(f"/api/v1/runners/{runner.id}/readings", json={"readings": batch})
    assert r.status_code == 204, r.text
    forged = [reading(env_id, now + timedelta(seconds=1), 1)]
    await other.api.post(f"/api/v1/runners/{other.id}/readings", json={"readings": forged})
    as_runner = await other.api.post(
        f"/api/v1/runners/{runner.id}/readings", json={"readings": forged}
    )
    assert as_runner.status_code == 404

    got = (await alice.get(f"/api/v1/environments/{env_id}/readings")).json()["items"]
    assert [g["cpu_usage_ns"] for g in got] == [70 * 10**9, 85 * 10**9, 100 * 10**9]
    assert (await bob.get(f"/api/v1/environments/{env_id}/readings")).status_code == 404

    plane.clock.advance(7 * 3600)  # kept a few hours only
    assert (await alice.get(f"/api/v1/environments/{env_id}/readings")).json()["items"] == []
