"""A real runner for resource tests, on a subnet of its own (10.219.x; other suites use
10.214-10.218)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from roost.runner.images import Image
from tests.runner.conftest import BUSYBOX_FULL, busybox_full, debian_base, shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, free_subnet, real_runner, run_in, wait_phase

__all__ = ["busybox_full", "debian_base"]


def resources_runner(
    plane: PlaneHarness, tmp_path: Path, **overrides: Any
) -> AbstractAsyncContextManager[RealRunner]:
    overrides.setdefault("subnet", free_subnet(219))
    return real_runner(plane, tmp_path, shared_image_store(), **overrides)


@pytest.fixture
async def runner(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> AsyncIterator[RealRunner]:
    async with resources_runner(plane, tmp_path) as r:
        yield r


async def make_class(plane: PlaneHarness, name: str, **resources: object) -> None:
    r = await plane.admin.post("/api/v1/classes", json={"name": name, "resources": resources})
    assert r.status_code == 201, r.text


async def create(plane: PlaneHarness, **spec: object) -> str:
    spec.setdefault("image", BUSYBOX_FULL)
    r = await plane.admin.post("/api/v1/environments", json={"spec": spec})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running")
    return env_id


async def sh(plane: PlaneHarness, env_id: str, script: str) -> tuple[int, str, str]:
    return await run_in(plane, plane.admin, env_id, "sh", "-c", script)


async def set_class(plane: PlaneHarness, env_id: str, name: str) -> dict[str, Any]:
    """Change a running environment's class (a spec write) and wait until it is applied."""
    env = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
    spec = {**env["spec"], "class": name}
    r = await plane.admin.put(f"/api/v1/environments/{env_id}/spec", json={"spec": spec})
    assert r.status_code == 200, r.text
    return await applied(plane, env_id, r.json()["spec"]["spec_version"])


async def applied(plane: PlaneHarness, env_id: str, version: int) -> dict[str, Any]:
    for _ in range(600):
        doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        status = doc["status"]
        if status["observed_spec_version"] >= version and status["phase"] == "running":
            return dict(doc)
        await asyncio.sleep(0.05)
    raise AssertionError(f"spec {version} of {env_id} not applied: {doc['status']}")
