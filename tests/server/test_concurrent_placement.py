"""Many creates at once while runners heartbeat: no deadlock between placements (PostgreSQL
locks the runner rows in one order), every environment placed."""

import asyncio

from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def test_concurrent_creates_and_heartbeats_never_deadlock(plane: PlaneHarness) -> None:
    runners = [await FakeRunner(plane, f"r{i}").register() for i in range(4)]

    async def beat() -> None:
        for _ in range(5):
            for r in runners:
                assert (await r.heartbeat()).status_code == 200

    async def create(i: int) -> int:
        r = await plane.admin.post("/api/v1/environments", json={"name": f"c{i}"})
        return r.status_code

    results = await asyncio.gather(beat(), *(create(i) for i in range(40)))
    assert results[1:] == [201] * 40
