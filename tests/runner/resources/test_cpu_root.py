"""The CPU control loop on real cgroups: a spinner comes down to its share; a shell does not."""

import asyncio
import time

import pytest

from roost.runner.cpu.cgroupfs import CpuFiles
from tests.runner.resources.conftest import create, make_class, sh
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner

pytestmark = pytest.mark.root


async def wait_limit(files: CpuFiles, at_most: float, timeout: float) -> float:
    """Seconds until the cgroup's CFS limit is ``at_most`` CPUs or less."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        limit = files.limit_cpus()
        if limit is not None and limit <= at_most:
            return time.perf_counter() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"limit still {files.limit_cpus()} after {timeout} s")


async def used_cpus(files: CpuFiles, seconds: float) -> float:
    before = files.usage_ns()
    await asyncio.sleep(seconds)
    return (files.usage_ns() - before) / 1e9 / seconds


async def test_a_spinner_is_held_to_its_share_and_recovers(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    await make_class(plane, "half", cpu=0.5, memory_mib=256)
    spinner = await create(plane, **{"class": "half"})
    shell = await create(plane)
    cpu = runner.assembly.cpu
    assert cpu is not None
    files = CpuFiles(runner.assembly.driver.cgroups_path(spinner))
    shell_files = CpuFiles(runner.assembly.driver.cgroups_path(shell))
    try:
        await wait_limit(files, at_most=cpu.cpus, timeout=5)  # governed: a full bucket
        spin = "(while :; do :; done) >/dev/null 2>&1 &"
        await sh(plane, spinner, f"{spin} {spin} sleep 0.1")
        held_after = await wait_limit(files, at_most=0.5 + 0.01, timeout=10)
        assert held_after < 5  # BURST_SECONDS * 0.5 / (2 - 0.5) = 0.7 s of budget, plus ticks
        assert await used_cpus(files, 2.0) == pytest.approx(0.5, abs=0.1)
        assert shell_files.limit_cpus() == cpu.cpus  # its neighbour keeps its bucket
        code, _, _ = await sh(plane, shell, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
        assert code == 0
        state = cpu.state(spinner)
        assert state is not None and state.budget < 0.05 and state.share == 0.5
        assert state.demoted and files.weight_cpus() is None  # the minimum weight, meanwhile
        await sh(plane, spinner, "kill -9 -1; true")  # every process but init and this shell
        await asyncio.sleep(0.5)
        recovered = files.limit_cpus()
        for _ in range(50):  # idle, the bucket refills at the share: 0.5 CPU-s per second
            if recovered is not None and recovered > 1.0:
                break
            await asyncio.sleep(0.1)
            recovered = files.limit_cpus()
        assert recovered is not None and recovered > 1.0
    finally:
        files.close()
        shell_files.close()
