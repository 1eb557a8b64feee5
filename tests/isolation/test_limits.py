"""Limits hold in every runtime (root): a fork bomb stops at the pids limit, a memory hog at the
memory limit.

How they hold differs, and the test says so: under crun the fork bomb gets EAGAIN from the pids
cgroup and the OOM killer takes the hog alone. Under gVisor the fork bomb gets EAGAIN from
``RLIMIT_NPROC`` inside the sandbox (``runtime/sandbox/bundle.py`` explains why), and the hog
takes the whole sandbox with it -- gVisor 20221219 has no OOM killer of its own, the host's
kills the Sentry -- after which the runner starts the environment again.
"""

import asyncio
import secrets
from pathlib import Path

import pytest

from roost.runner.images import Image
from roost.runner.runtime.sandbox.bundle import process_limit
from tests.isolation.harness import (
    ROOT,
    RUNTIMES,
    USER,
    create_env,
    exec_as,
    isolation_runner,
    run_probe,
)
from tests.support.plane import PlaneHarness

pytestmark = pytest.mark.root

PIDS, MEMORY_MIB = 512, 256


async def alive(plane: PlaneHarness, env_id: str, timeout: float = 60) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await plane.schedule()
        try:
            if (await exec_as(plane.admin, env_id, ROOT, "echo", "alive"))[1] == "alive\n":
                return True
        except AssertionError:  # not running (yet): the stream reports an error
            pass
        await asyncio.sleep(0.5)
    return False


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_pids_and_memory_limits_hold(
    plane: PlaneHarness, tmp_path: Path, debian_base: Image, runtime: str
) -> None:
    # Two classes: under gVisor the forked probes' copied pages are the Sentry's memory, so a
    # fork test at the small memory limit would be ended by the memory limit instead.
    classes = {}
    for part, memory in (("pids", 1024), ("memory", MEMORY_MIB)):
        name = classes[part] = f"small-{part}-{runtime}-{secrets.token_hex(3)}"
        resources = {"cpu": 1, "pids": PIDS, "memory_mib": memory, "runtime": runtime}
        r = await plane.admin.post("/api/v1/classes", json={"name": name, "resources": resources})
        assert r.status_code == 201, r.text
    async with isolation_runner(plane, tmp_path, runtime) as runner:
        env_id = await create_env(
            plane, plane.admin, debian_base.ref, runtime, klass=classes["pids"]
        )
        limit = PIDS if runtime == "container" else process_limit(PIDS)
        report = await run_probe(plane.admin, env_id, USER, {"suite": "pids", "pids_limit": limit})
        assert not report.failures(), report.raw
        assert await alive(plane, env_id)

        env_id = await create_env(
            plane, plane.admin, debian_base.ref, runtime, klass=classes["memory"]
        )
        driver = runner.assembly.sandbox if runtime == "sandbox" else runner.assembly.driver
        assert driver is not None
        memory = {"suite": "memory", "memory_limit_bytes": MEMORY_MIB << 20}
        if runtime == "container":
            report = await run_probe(plane.admin, env_id, USER, memory)
            assert not report.failures(), report.raw
        else:  # the whole sandbox is killed: the probe's stream ends without a report
            with pytest.raises(AssertionError):
                await run_probe(plane.admin, env_id, USER, memory)
        stats = await driver.stats(env_id)
        assert stats.memory_limit_bytes == MEMORY_MIB << 20
        assert stats.oom_kills >= 1
        assert await alive(plane, env_id)  # the environment lives on (or again)
