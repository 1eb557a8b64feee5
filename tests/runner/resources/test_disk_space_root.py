"""The runner's disk behind the environments' disks (root), on a small filesystem of its own:
quotas are never promised past what the host can back, and a disk that fails says so."""

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.runner.disks import Disks, space
from roost.runner.images import Image
from tests.runner.resources.conftest import create, make_class, resources_runner, sh
from tests.support.plane import PlaneHarness
from tests.support.runner import wait_phase
from tests.support.smallfs import fill_up, small_fs

pytestmark = pytest.mark.root
GIB = 1 << 30
NOBODY = 1_234_567


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[Disks]:
    with small_fs(tmp_path, 3 << 10) as fs:
        d = Disks(fs / "disks", fs / "envs", fs / "workspaces")
        try:
            yield d
        finally:
            for env_id in d.list():
                d.remove(env_id)


def test_a_disk_the_host_cannot_back_is_refused(disks: Disks) -> None:
    """Regression: sparse images overcommitted the host; with it full, writes inside were lost."""
    assert space.capacity_gib(disks.images) == 2
    disks.ensure("e1", 1)
    disks.ensure("e2", 1)
    assert space.capacity_gib(disks.images) == 2  # the two it holds, nothing more
    with pytest.raises(space.NoRoom, match="cannot back a 1 GiB environment disk"):
        disks.ensure("e3", 1)
    with pytest.raises(space.NoRoom):
        disks.ensure("e2", 2)  # a bigger quota is a bigger promise
    assert disks.list() == ["e1", "e2"]
    disks.remove("e2")
    disks.ensure("e3", 1)  # freed: backed again


def test_a_failed_disk_is_reported(disks: Disks) -> None:
    disks.ensure("e1", 1)
    assert disks.health("e1") is None
    os.chown(disks.workspace("e1"), NOBODY, NOBODY)
    filler = fill_up(disks.images.parent)  # something else filled the runner's filesystem
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "dd", "if=/dev/urandom", "of=work", "bs=1M", "count=400", "conv=fsync"]  # fmt: skip
    subprocess.run(argv, capture_output=True, check=False, cwd=disks.workspace("e1"))
    deadline = time.monotonic() + 30
    while (why := disks.health("e1")) is None and time.monotonic() < deadline:
        os.sync()
        time.sleep(0.5)
    assert why is not None and "the environment's disk failed" in why
    filler.unlink()


async def test_a_full_runner_disk_fails_the_environment_at_once_and_heals(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    """Regression: with the runner's filesystem full, writes inside were lost while the status
    stayed ``running`` and ``resources`` ``ready``."""
    with small_fs(tmp_path, 3 << 10) as fs:
        async with resources_runner(plane, tmp_path, data_dir=fs / "runner") as runner:
            info = runner.agent.info()
            assert info.capacity.disk_gib == 2  # what it can back, not the filesystem's size
            await make_class(plane, "onegig", disk_gib=1, cpu=1)
            env_id = await create(plane, **{"class": "onegig"})
            filler = await asyncio.to_thread(fill_up, fs)  # the runner's filesystem fills up
            await sh(plane, env_id, "dd if=/dev/urandom of=/work bs=1M count=300 conv=fsync")
            doc = await wait_phase(plane, env_id, "failed", timeout=20)
            assert "the environment's disk failed" in doc["status"]["message"]
            assert doc["status"]["conditions"]["disk"]["phase"] == "failed"
            filler.unlink()
            await plane.admin.post(f"/api/v1/environments/{env_id}/stop")
            await until_phase(plane, env_id, "stopped")
            # never a backup of a disk that lost writes (it saved a zero-filled file once)
            status = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()["status"]
            assert (
                "not backed up: the environment's disk failed"
                in (status["conditions"]["backup"]["message"])
            )
            backups = await plane.admin.get(f"/api/v1/environments/{env_id}/backups")
            assert backups.json() == []
            await plane.admin.post(f"/api/v1/environments/{env_id}/start")
            await wait_phase(plane, env_id, "running")
            code, out, _ = await sh(plane, env_id, "echo ok > /after && cat /after")
            assert (code, out.strip()) == (0, "ok")


async def until_phase(plane: PlaneHarness, env_id: str, phase: str, timeout: float = 60) -> None:
    """Like ``wait_phase``, through ``failed`` (the environment starts there)."""
    doc: dict[str, Any] = {}
    for _ in range(int(timeout * 4)):
        await plane.schedule()
        await plane.lifecycle()
        doc = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        if doc["status"]["phase"] == phase:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"not {phase}: {doc['status']}")


def test_runners_sharing_a_filesystem_count_each_others_disks(tmp_path: Path) -> None:
    """Two runners of one host, their data on one filesystem: each sees the same free space,
    so without counting the other's promises both would promise it."""
    with small_fs(tmp_path, 3 << 10) as fs:
        every = []
        for name in ("r1", "r2"):
            host = space.HostDisks(fs / "ids" / "disks", name)
            d = fs / name
            every.append(Disks(d / "disks", d / "envs", d / "workspaces", host))
        one, two = every
        try:
            one.ensure("e1", 1)
            two.ensure("e2", 1)
            assert space.capacity_gib(one.images, one.host) == 1  # its own; no room for more
            with pytest.raises(space.NoRoom):
                one.ensure("e3", 1)
            two.remove("e2")
            one.ensure("e3", 1)
        finally:
            for d in every:
                for env_id in d.list():
                    d.remove(env_id)
