"""Helpers for backup tests: environments on real runners, and waiting for release."""

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.runner.conftest import BUSYBOX_FULL
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, run_in, wait_phase

WS = "/workspaces/workspace"
"""Where an environment without a repository sees its workspace."""


async def create(plane: PlaneHarness, **spec: Any) -> str:
    spec.setdefault("image", BUSYBOX_FULL)
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running")
    return env_id


async def sh(plane: PlaneHarness, env_id: str, script: str) -> str:
    code, out, err = await run_in(plane, plane.admin, env_id, "sh", "-c", script)
    assert code == 0, (out, err)
    return out


async def get(plane: PlaneHarness, env_id: str) -> dict[str, Any]:
    r = await plane.admin.get(f"/api/v1/environments/{env_id}")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def stop_and_release(
    plane: PlaneHarness, env_id: str, runner: RealRunner | None = None, timeout: float = 120
) -> dict[str, Any]:
    """Stop; wait until the runner backed it up and the plane unassigned it, and (given the
    runner) until the runner let go of its copy."""
    r = await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
    assert r.status_code == 200, r.text
    doc = await wait_released(plane, env_id, timeout)
    if runner is not None:
        workspace = runner.config.data_dir / "workspaces" / env_id
        await eventually(lambda: not workspace.exists(), "the runner let go of the files")
    return doc


async def wait_released(plane: PlaneHarness, env_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        doc = await get(plane, env_id)
        status = doc["status"]
        if status["runner_id"] is None and status["phase"] == "stopped":
            return doc
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not released: {status}")
        await asyncio.sleep(0.1)


async def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def wait_condition(
    plane: PlaneHarness, env_id: str, part: str, phase: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        doc = await get(plane, env_id)
        cond = doc["status"]["conditions"].get(part)
        if cond and cond["phase"] == phase:
            return dict(cond)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{part} never {phase}: {doc['status']}")
        await plane.schedule()
        await asyncio.sleep(0.1)


async def start(plane: PlaneHarness, env_id: str, runner: str | None = None) -> dict[str, Any]:
    if runner is None:
        r = await plane.admin.post(f"/api/v1/environments/{env_id}/start")
    else:
        spec = (await get(plane, env_id))["spec"]
        spec.update(runner=runner, desired_phase="running")
        r = await plane.admin.put(f"/api/v1/environments/{env_id}/spec", json={"spec": spec})
    assert r.status_code == 200, r.text
    return await wait_phase(plane, env_id, "running", timeout=120)


async def repository(plane: PlaneHarness) -> tuple[str, str]:
    """The (only) backup repository's name and password, read from the plane's database (where
    the password is sealed under the plane's master key)."""
    from sqlalchemy import select

    from roost.server.services import crypto, repository_keys
    from roost.server.store.rows import BackupRepositoryRow

    async with plane.ctx.db.read() as session:
        row = (await session.scalars(select(BackupRepositoryRow))).one()
    box = crypto.box(plane.ctx.settings.data_dir)
    return row.id, repository_keys.open_password(box, row.id, row.password)


def restic(repo: Path, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "RESTIC_PASSWORD": password, "HOME": "/root"}
    return subprocess.run(
        ["restic", "-r", str(repo), "--no-cache", *args], env=env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
