"""False alarms after a plane restart or pause: a paused plane does not blame runners, a
runner is listed online as soon as it heartbeats, and a runner's idempotent report that meets a
dead pooled connection goes out again on a fresh one."""

from typing import Any

import httpx
import pytest

from roost.core.errors import Unavailable
from roost.core.schemas.environments import StatusReport
from roost.runner.client import PlaneClient
from roost.server.controllers.runner_health import RunnerHealth
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def running_env(plane: PlaneHarness, r: FakeRunner) -> dict[str, Any]:
    created = await plane.admin.post("/api/v1/environments", json={"spec": {"runner": r.name}})
    env: dict[str, Any] = created.json()
    r2 = await r.report(env, "running")
    assert r2.status_code == 200, r2.text
    return env


async def state(plane: PlaneHarness, env_id: str) -> tuple[str, str]:
    env = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    runner = (await plane.admin.get("/api/v1/runners")).json()["items"][0]
    return runner["state"], env["status"]["phase"]


async def test_a_paused_plane_does_not_blame_runners(plane: PlaneHarness) -> None:
    r1 = await FakeRunner(plane, "r1").register()
    env_id = (await running_env(plane, r1))["metadata"]["id"]
    ticks = Ticks()
    health = RunnerHealth(plane.ctx, monotonic=ticks)
    await health.run_once()

    plane.clock.advance(40)  # the plane was stopped for 40 s: no pass, no heartbeat heard
    ticks.now += 40
    await health.run_once()
    assert await state(plane, env_id) == ("online", "running")

    for _ in range(4):  # now it watches, and the runner really is silent
        plane.clock.advance(10)
        ticks.now += 10
        await health.run_once()
    assert await state(plane, env_id) == ("offline", "unknown")

    assert (await r1.heartbeat()).status_code == 200
    assert (await state(plane, env_id))[0] == "online"  # listed online at once


class DeadPooledConnection(httpx.AsyncBaseTransport):
    """The first request dies as on a connection the restarted plane closed."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failures = 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.failures -= 1
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return await self.inner.handle_async_request(request)


async def test_a_report_after_a_plane_restart_goes_out_on_a_fresh_connection(
    plane: PlaneHarness,
) -> None:
    r1 = await FakeRunner(plane, "r1").register()
    env = await running_env(plane, r1)
    transport = DeadPooledConnection(httpx.ASGITransport(app=plane.app))
    client = PlaneClient("http://plane", r1.token, transport=transport)
    try:
        report = StatusReport(observed_spec_version=1, phase="running", message="still running")
        fresh = await client.report(env["metadata"]["id"], report)
        assert fresh.status.phase == "running" and fresh.status.message == "still running"

        transport.failures = 1  # a create is not idempotent: not sent twice
        with pytest.raises(Unavailable):
            await client._call("POST", "/runners/registration-tokens", json={})
    finally:
        await client.close()
