"""A plane the runner cannot reach is not an environment failure: the pass is tried again
soon, and the environment is never reported ``failed`` for it (after a plane restart one used
to show ``failed`` for half a minute while it ran)."""

from pathlib import Path

import httpx

from tests.runner.test_reconciler import Setup
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


class Switch(httpx.AsyncBaseTransport):
    """Passes requests to the plane, or (``down``) refuses them like a plane that is away."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method == "PUT":
            raise httpx.ConnectError("connection refused")
        return await self.inner.handle_async_request(request)


async def test_an_unreachable_plane_is_retried_not_reported_failed(
    plane: PlaneHarness, tmp_path: Path
) -> None:
    setup = Setup(plane, await FakeRunner(plane).register(), tmp_path)
    switch = Switch(httpx.ASGITransport(app=plane.app))
    setup.client.http._transport = switch  # the reports go through the switch
    try:
        env_id = await setup.create()
        env = await setup.env(env_id)
        switch.down = True  # every status report fails
        delay = await setup.reconciler.reconcile(env_id, env)
        assert delay is not None and delay <= 5.0
        switch.down = False
        status = (await setup.env(env_id)).status
        assert status.phase != "failed", status.message
        assert await setup.step(env_id) is None
        assert (await setup.env(env_id)).status.phase == "running"
    finally:
        await setup.client.close()
