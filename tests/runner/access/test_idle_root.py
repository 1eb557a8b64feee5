"""Idle stop end to end (root): SSH traffic through a real gateway keeps an environment alive on
the plane's injected clock; without it the environment stops through the normal stop (which
keeps the workspace: tests/runner/test_container_root.py). An open session without traffic
counts only when the spec says so."""

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from roost.runner.images import Image
from roost.server.controllers.idle import IdleStop
from tests.runner.access.conftest import add_key, create_env, keypair, run, ssh_target
from tests.runner.conftest import BUSYBOX_FULL
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, wait_phase

pytestmark = pytest.mark.root


async def status(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    return (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()  # type: ignore[no-any-return]


async def activity_reaches_the_plane(plane: PlaneHarness, env_id: str) -> None:
    """Wait until the runner's batched report moved last_activity to the plane's now."""
    now = plane.clock.now()
    for _ in range(100):
        last = datetime.fromisoformat((await status(plane, env_id))["status"]["last_activity"])
        if (now - last).total_seconds() < 5:
            return
        await asyncio.sleep(0.1)
    raise AssertionError((await status(plane, env_id))["status"]["last_activity"])


@pytest.mark.parametrize("keep_alive", [False, True])
async def test_idle_stop(
    plane: PlaneHarness,
    ssh_runner: RealRunner,
    tmp_path: Path,
    busybox_full: Image,
    keep_alive: bool,
) -> None:
    alice = await plane.user("alice")
    key = keypair(tmp_path, "alice")
    await add_key(alice, key)
    env_id = await create_env(
        plane, alice, BUSYBOX_FULL, timeout_seconds=600, keep_alive_sessions=keep_alive
    )
    target = await ssh_target(plane, ssh_runner, tmp_path)
    ssh = lambda *cmd: target.argv(key, env_id, *cmd)  # noqa: E731

    plane.clock.advance(500)
    assert (await run(ssh("echo typing")))[0] == 0  # traffic: activity
    await activity_reaches_the_plane(plane, env_id)
    plane.clock.advance(500)
    await IdleStop(plane.ctx).run_once()
    assert (await status(plane, env_id))["spec"]["desired_phase"] == "running"

    session = await asyncio.create_subprocess_exec(*ssh("sleep 1000"))  # open, silent
    try:
        plane.clock.advance(50)
        await activity_reaches_the_plane(plane, env_id)  # opening a session is activity
        plane.clock.advance(601)
        await asyncio.sleep(1.5)  # a few report periods: only kept-alive sessions report
        if keep_alive:
            await activity_reaches_the_plane(plane, env_id)
        await IdleStop(plane.ctx).run_once()
        doc = await status(plane, env_id)
        assert doc["spec"]["desired_phase"] == ("running" if keep_alive else "stopped")
        if keep_alive:
            return
        await wait_phase(plane, env_id, "stopped")
        assert await asyncio.wait_for(session.wait(), 20) == 143  # SIGTERM: the stop ended it
    finally:
        if session.returncode is None:
            session.kill()
            await session.wait()
    doc = await status(plane, env_id)
    assert doc["status"]["message"].startswith("stopped")  # the runner's usual stop
