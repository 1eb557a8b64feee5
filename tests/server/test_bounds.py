"""Hostile numbers: every numeric input is bounded (400 naming the field, never a 500), and a
bad row already stored never stops a control loop for everyone else."""

from sqlalchemy import update

from roost.server.controllers.idle import IdleStop
from roost.server.store.rows import EnvironmentRow
from tests.server.access_support import running_env
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness

HUGE = 10**30


def names_field(body: dict[str, object], field: str) -> bool:
    error = body["error"]
    assert isinstance(error, dict)
    return error["code"] == "invalid_input" and field in str(error["message"])


async def test_huge_numbers_are_refused_with_the_field_named(plane: PlaneHarness) -> None:
    cases = [
        ("POST", "/api/v1/tokens", {"expires_in_seconds": HUGE}, "expires_in_seconds"),
        ("POST", "/api/v1/tokens", {"expires_in_seconds": 10**12}, "expires_in_seconds"),
        ("POST", "/api/v1/environments", {"spec": {"timeout_seconds": HUGE}}, "timeout_seconds"),
        ("POST", "/api/v1/environments", {"spec": {"spec_version": HUGE}}, "spec_version"),
        ("POST", "/api/v1/classes",
         {"name": "big", "resources": {"memory_mib": 2**63}}, "memory_mib"),
        ("POST", "/api/v1/classes", {"name": "big", "resources": {"disk_gib": 2**63}}, "disk_gib"),
        ("POST", "/api/v1/classes", {"name": "big", "resources": {"pids": 2**63}}, "pids"),
    ]  # fmt: skip
    for method, path, body, field in cases:
        r = await plane.admin.request(method, path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert names_field(r.json(), field), r.text


async def test_a_watch_from_the_far_future_is_a_400(plane: PlaneHarness) -> None:
    for since in ("1e20", str(2**63)):
        r = await plane.admin.get("/api/v1/watch", params={"since": since, "timeout": 0})
        assert r.status_code == 400, (since, r.text)
        assert names_field(r.json(), "since"), r.text


async def test_a_bad_row_does_not_stop_idle_stop_for_the_others(plane: PlaneHarness) -> None:
    runner = await FakeRunner(plane).register()
    bad = await running_env(plane, runner, plane.admin, timeout_seconds=600)
    good = await running_env(plane, runner, plane.admin, timeout_seconds=600)
    bad_id, good_id = bad["metadata"]["id"], good["metadata"]["id"]
    async with plane.ctx.db.write() as session:  # as stored before the bound existed
        spec = {**bad["spec"], "timeout_seconds": HUGE}
        await session.execute(
            update(EnvironmentRow).where(EnvironmentRow.id == bad_id).values(spec=spec)
        )
    plane.clock.advance(601)
    await IdleStop(plane.ctx).run_once()
    doc = (await plane.admin.get(f"/api/v1/environments/{good_id}")).json()
    assert doc["spec"]["desired_phase"] == "stopped"
    async with plane.ctx.db.read() as session:
        row = await session.get(EnvironmentRow, bad_id)
        assert row is not None and row.desired_phase == "running"  # skipped, not a crash
