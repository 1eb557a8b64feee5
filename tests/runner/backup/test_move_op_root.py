"""``roost env move``: a running environment moves from A to B with its work; a failed one
moves back; a stop after a move ends ``stopped`` (it used to hang ``pending``, "moving to
runner B"); refusals say why (root: real runners, real backups)."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from roost.runner.images import Image
from roost.runner.runtime.base import RuntimeFailure, RuntimeSpec
from tests.runner.backup.support import WS, create, get, sh, stop_and_release
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, free_subnet, real_runner

pytestmark = pytest.mark.root


async def move(plane: PlaneHarness, env_id: str, runner: str) -> dict[str, Any]:
    r = await plane.admin.post(f"/api/v1/environments/{env_id}/move", json={"runner": runner})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def arrived(plane: PlaneHarness, env_id: str, runner: RealRunner) -> dict[str, Any]:
    """Wait (driving the scheduler) until the move is done; every move step seen on the way."""
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        doc = await get(plane, env_id)
        moved = doc["status"]["conditions"].get("move", {})
        if moved.get("phase") == "ready" and doc["status"]["phase"] == "running":
            assert doc["status"]["runner_id"] == runner.id
            return doc
        assert asyncio.get_running_loop().time() < deadline, doc["status"]
        await plane.schedule()
        await asyncio.sleep(0.1)


async def failed_on(plane: PlaneHarness, env_id: str, runner: RealRunner) -> None:
    async def refuse(spec: RuntimeSpec) -> None:
        raise RuntimeFailure("injected: this runner cannot start it")

    runner.assembly.driver.start = refuse  # type: ignore[method-assign]
    await runner.assembly.driver.stop(env_id, grace=1.0)  # it died; its restarts fail here
    deadline = asyncio.get_running_loop().time() + 60
    while (await get(plane, env_id))["status"]["phase"] != "failed":
        assert asyncio.get_running_loop().time() < deadline
        runner.agent.queue.add(env_id)
        await asyncio.sleep(0.2)


async def test_move_running_then_failed_then_stop(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    store = shared_image_store()
    async with (
        real_runner(plane, tmp_path, store, name="runner-a", subnet=free_subnet(218)) as a,
        real_runner(plane, tmp_path, store, name="runner-b", subnet=free_subnet(218)) as b,
    ):
        env_id = await create(plane, runner="runner-a")
        await sh(plane, env_id, f"echo work > {WS}/keep")

        doc = await move(plane, env_id, "runner-b")
        assert doc["status"]["conditions"]["move"]["phase"] == "progressing"
        assert "from runner-a to runner-b" in doc["status"]["conditions"]["move"]["message"]
        doc = await arrived(plane, env_id, b)
        assert doc["status"]["conditions"]["move"]["message"] == "moved from runner-a to runner-b"
        assert await sh(plane, env_id, f"cat {WS}/keep") == "work\n"

        await failed_on(plane, env_id, b)  # a start that keeps failing on B
        await move(plane, env_id, "runner-a")
        await arrived(plane, env_id, a)
        assert await sh(plane, env_id, f"cat {WS}/keep") == "work\n"

        refused = await plane.admin.post(
            f"/api/v1/environments/{env_id}/move", json={"runner": "nowhere"}
        )
        assert refused.status_code == 404 and "runner list" in refused.text

        doc = await stop_and_release(plane, env_id, a)  # stopped, not "pending" / "moving"
        assert doc["spec"]["runner"] == "runner-a"
