"""``roost runner drain`` and ``roost runner lost`` with real runners and real backups (root):
drain moves a running environment off A through stop, backup and restore; when B then dies
for good, declaring it lost gives the environment back at its last backup, which a start
restores on A -- with what was written after that backup gone, as its status said."""

import asyncio
from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.runner.backup.support import WS, create, get, sh
from tests.runner.backup.test_move_op_root import arrived
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import free_subnet, real_runner, wait_phase

pytestmark = pytest.mark.root


async def test_drain_then_lost(plane: PlaneHarness, tmp_path: Path, busybox_full: Image) -> None:
    store = shared_image_store()
    async with (
        real_runner(plane, tmp_path, store, name="runner-a", subnet=free_subnet(219)) as a,
        real_runner(plane, tmp_path, store, name="runner-b", subnet=free_subnet(219)) as b,
    ):
        env_id = await create(plane, runner="runner-a")
        await sh(plane, env_id, f"echo before > {WS}/kept")

        r = await plane.admin.post("/api/v1/runners/runner-a/drain")
        assert r.status_code == 200 and r.json()["moving"] == [env_id], r.text
        await arrived(plane, env_id, b)
        assert await sh(plane, env_id, f"cat {WS}/kept") == "before\n"
        backup = (await get(plane, env_id))["status"]["conditions"]["backup"]["details"]

        await sh(plane, env_id, f"echo after > {WS}/lost")
        b.task.cancel()  # runner-b dies for good
        await asyncio.gather(b.task, return_exceptions=True)
        plane.clock.advance(60)
        await asyncio.sleep(2.5)  # runner-a heartbeats (every second) at the new time
        await plane.health()
        assert (await get(plane, env_id))["status"]["phase"] == "unknown"

        r = await plane.admin.post("/api/v1/runners/runner-b/lost")
        assert r.status_code == 200, r.text
        doc = await get(plane, env_id)
        assert doc["status"]["phase"] == "stopped" and doc["status"]["runner_id"] is None
        assert "runner-b was lost" in doc["status"]["message"]
        assert str(backup.get("snapshot", ""))[:8] in doc["status"]["message"]

        await plane.admin.post("/api/v1/runners/runner-a/drain", params={"undo": True})
        assert (await plane.admin.post(f"/api/v1/environments/{env_id}/start")).status_code == 200
        doc = await wait_phase(plane, env_id, "running", timeout=120)
        assert doc["status"]["runner_id"] == a.id
        assert await sh(plane, env_id, f"cat {WS}/kept; test -e {WS}/lost || echo gone") == (
            "before\ngone\n"
        )
