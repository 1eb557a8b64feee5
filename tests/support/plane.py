"""A plane for tests: the real app and database, controllers driven by hand, a fake clock.

``harness.admin`` is an httpx client authenticated as the first admin; ``harness.client(token)``
makes others; ``harness.user(...)`` creates a user (and org membership) and returns its client.
Requests go through ASGI in-process -- the same routing, dependencies and error mapping as over
TCP, without sockets.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from roost.core.clock import FakeClock
from roost.server.app import Plane, create_app
from roost.server.controllers.lifecycle import Lifecycle
from roost.server.controllers.runner_health import RunnerHealth
from roost.server.controllers.runner_loss import RunnerLoss
from roost.server.controllers.scheduler import Scheduler
from roost.server.settings import Settings


@dataclass
class PlaneHarness:
    app: Any
    plane: Plane
    clock: FakeClock
    admin: httpx.AsyncClient
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    health_loop: RunnerHealth | None = None
    """One runner-health controller for the plane's life: it measures from when it started.
    Its passes are driven by hand, so the time between them is no pause of the plane."""

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.plane.ctx

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://plane", headers=headers
        )
        self.clients.append(c)
        return c

    async def user(
        self, name: str, org: str = "default", role: str = "member"
    ) -> httpx.AsyncClient:
        """A new user (member of ``org`` with ``role``, unless org is empty) and its client."""
        user = (await self.admin.post("/api/v1/users", json={"name": name})).json()
        if org:
            r = await self.admin.post(
                f"/api/v1/organizations/{org}/members", json={"user": user["id"], "role": role}
            )
            assert r.status_code == 201, r.text
        token = await self.admin.post("/api/v1/tokens", json={"user": user["id"]})
        return self.client(token.json()["secret"])

    async def schedule(self) -> None:
        await Scheduler(self.ctx).run_once()

    async def lifecycle(self) -> None:
        await Lifecycle(self.ctx).run_once()

    async def health(self) -> None:
        if self.health_loop is None:
            self.health_loop = RunnerHealth(self.ctx, monotonic=lambda: 0.0)
        await self.health_loop.run_once()

    async def loss(self) -> None:
        await RunnerLoss(self.ctx).run_once()


@asynccontextmanager
async def plane_harness(
    tmp_path: Path, database_url: str | None = None
) -> AsyncIterator[PlaneHarness]:
    """A plane on ``database_url`` (default: a fresh SQLite file in ``tmp_path``)."""
    clock = FakeClock()
    url = database_url or f"sqlite:///{tmp_path / 'roost.db'}"
    settings = Settings(database_url=url, data_dir=tmp_path)
    app = create_app(settings, clock, controllers=False)
    async with app.router.lifespan_context(app):
        plane: Plane = app.state.plane
        token = (tmp_path / "admin-token").read_text().strip()  # made at first start
        await _small_disks(plane)
        harness = PlaneHarness(app=app, plane=plane, clock=clock, admin=httpx.AsyncClient())
        harness.admin = harness.client(token)
        harness.health_loop = RunnerHealth(plane.ctx, monotonic=lambda: 0.0)
        try:
            yield harness
        finally:
            for c in harness.clients:
                await c.aclose()


TEST_DISK_GIB = 4
"""The built-in classes' disks in tests. A runner promises only the disk its host can back
(``runner/disks/space.py``), so three 20 GiB environments need 60 GiB free on the test
machine; the tests' environments hold a few MiB."""


async def _small_disks(plane: Plane) -> None:
    from sqlalchemy import select

    from roost.server.store.rows import EnvironmentClassRow

    async with plane.ctx.db.write() as session:
        for row in await session.scalars(select(EnvironmentClassRow)):
            disk = min(int(row.resources.get("disk_gib", TEST_DISK_GIB)), TEST_DISK_GIB)
            row.resources = {**row.resources, "disk_gib": disk}
