"""Class limits against real workloads: a fork bomb, a memory hog, a disk filler (root)."""

import asyncio
import os
import time
from pathlib import Path

import pytest

from tests.runner.resources.conftest import create, make_class, sh
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, run_in

pytestmark = pytest.mark.root
GIB = 1 << 30


def resources_condition(env: dict[str, object]) -> dict[str, object]:
    return env["status"]["conditions"].get("resources", {})  # type: ignore[index, no-any-return]


async def wait_condition(plane: PlaneHarness, env_id: str, text: str) -> dict[str, object]:
    for _ in range(200):
        env = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        if text in str(resources_condition(env).get("message", "")):
            return env  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"resources condition never said {text!r}: {resources_condition(env)}")


async def test_a_fork_bomb_stops_at_the_pids_limit(plane: PlaneHarness, runner: RealRunner) -> None:
    await make_class(plane, "bomb", cpu=0.5, pids=64, memory_mib=256)
    bomb = await create(plane, **{"class": "bomb"})
    bystander = await create(plane)
    # forkers that never give up: each fork that succeeds holds a pid for a minute
    bomber = "(while :; do sleep 60 & done) >/dev/null 2>&1 &"
    await sh(plane, bomb, f"{bomber} {bomber} {bomber} sleep 0.1")
    await asyncio.sleep(3)  # the pids are all taken; the forkers keep trying
    stats = await runner.assembly.driver.stats(bomb)
    assert 60 <= stats.pids <= 64
    env = await wait_condition(plane, bomb, "process limit reached (64 pids)")  # like an OOM
    assert resources_condition(env)["details"]["pids_limit_hits"] > 0  # type: ignore[index]
    started = time.perf_counter()
    code, out, _ = await run_in(plane, plane.admin, bystander, "echo", "fine")
    assert (code, out) == (0, "fine\n")
    assert time.perf_counter() - started < 2.0  # the runner and its neighbours keep working
    await plane.health()
    runners = (await plane.admin.get("/api/v1/runners")).json()["items"]
    assert [r["state"] for r in runners] == ["online"]
    r = await plane.admin.post(f"/api/v1/environments/{bomb}/stop")  # the way out: stop it
    assert r.status_code == 200
    for _ in range(200):
        if (await runner.assembly.driver.inspect(bomb)).state != "running":
            break
        await asyncio.sleep(0.05)
    assert (await runner.assembly.driver.inspect(bomb)).state != "running"


async def test_a_memory_hog_is_killed_inside_and_reported(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    await make_class(plane, "tiny", memory_mib=64, cpu=1)
    env_id = await create(plane, **{"class": "tiny"})
    init = (await runner.assembly.driver.inspect(env_id)).pid
    code, _, _ = await sh(plane, env_id, "x=aaaaaaaa; while true; do x=$x$x; done")
    assert code == 137  # SIGKILL from the OOM killer
    assert (await run_in(plane, plane.admin, env_id, "true"))[0] == 0  # the rest lives on
    assert (await runner.assembly.driver.inspect(env_id)).pid == init  # not restarted
    env = await wait_condition(plane, env_id, "out of memory 1x: killed sh")
    details = resources_condition(env)["details"]
    assert details["oom_kills"] == 1  # type: ignore[index]
    last = details["last_oom"]  # type: ignore[index]
    assert last["process"] == "sh" and last["pid"] > 0 and last["rss_kib"] > 30_000
    assert env["status"]["phase"] == "running"  # type: ignore[index]


async def test_a_disk_filler_gets_enospc_at_its_quota(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    await make_class(plane, "onegig", disk_gib=1, cpu=1)
    filler = await create(plane, **{"class": "onegig"})
    other = await create(plane, **{"class": "onegig"})
    # the writable layer and the workspace share the quota
    code, _, err = await sh(plane, filler, "dd if=/dev/zero of=/root/layer bs=1M count=400")
    assert code == 0, err
    code, out, err = await sh(
        plane, filler,
        "dd if=/dev/zero of=/workspaces/workspace/fill bs=1M 2>&1; "
        "du -k /root/layer /workspaces/workspace/fill",
    )  # fmt: skip
    assert "No space left on device" in out, (out, err)
    written = sum(int(line.split()[0]) for line in out.splitlines()[-2:]) * 1024
    assert 0.95 * GIB <= written <= 1.0 * GIB
    host_file = runner.config.data_dir / "host-still-writes"
    host_file.write_bytes(os.urandom(1 << 20))  # the host's filesystem is untouched
    code, _, err = await sh(plane, other, "dd if=/dev/zero of=/root/x bs=1M count=100")
    assert code == 0, err  # so is every other environment's disk
    stats = await runner.assembly.driver.stats(filler)
    assert stats.disk_used_bytes >= written and stats.disk_limit_bytes <= GIB + (8 << 20)
    # an environment whose disk is full still restarts: the runner's files use root's reserve
    await plane.admin.post(f"/api/v1/environments/{filler}/stop")
    for _ in range(400):
        if (await runner.assembly.driver.inspect(filler)).state != "running":
            break
        await asyncio.sleep(0.05)
    image = runner.config.data_dir / "disks" / f"{filler}.img"
    assert image.exists() and image.stat().st_blocks * 512 < 2 * GIB  # sparse


async def test_limits_change_live_and_say_what_did_not(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    from tests.runner.resources.conftest import set_class

    await make_class(plane, "before", cpu=1, memory_mib=256, pids=128, disk_gib=1)
    await make_class(plane, "after", cpu=2, memory_mib=512, pids=256, disk_gib=2)
    await make_class(plane, "squeezed", cpu=1, memory_mib=96, pids=64, disk_gib=1)
    env_id = await create(plane, **{"class": "before"})
    init = (await runner.assembly.driver.inspect(env_id)).pid
    await set_class(plane, env_id, "after")
    path = runner.assembly.driver.cgroups_path(env_id).strip("/")
    root = Path("/sys/fs/cgroup")
    if not (root / "cgroup.controllers").exists():
        assert (root / "memory" / path / "memory.limit_in_bytes").read_text() == f"{512 << 20}\n"
        assert (root / "pids" / path / "pids.max").read_text() == "256\n"
        assert (root / "cpu" / path / "cpu.shares").read_text() == "2048\n"
    code, out, _ = await sh(plane, env_id, "df -k /workspaces/workspace | tail -n 1")
    assert int(out.split()[3]) * 1024 > 1.9 * GIB  # the disk grew, live
    assert (await runner.assembly.driver.inspect(env_id)).pid == init  # no restart
    # memory below what it uses now cannot apply live; the status says so
    code, _, err = await sh(plane, env_id, "dd if=/dev/zero of=/run/held bs=1M count=150")
    assert code == 0, err
    env = await set_class(plane, env_id, "squeezed")
    condition = resources_condition(env)
    assert "memory_mib: the environment uses" in str(condition["message"])
    assert any("memory_mib" in n for n in condition["details"]["not_applied"])  # type: ignore[index]
    code, out, _ = await sh(plane, env_id, "df -k /workspaces/workspace | tail -n 1")
    assert int(out.split()[3]) * 1024 < 1.01 * GIB  # the disk shrank, live
    assert (await runner.assembly.driver.inspect(env_id)).pid == init
