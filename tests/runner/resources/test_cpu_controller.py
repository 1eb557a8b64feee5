"""The CPU control loop against fake cgroup trees (v1 as on this machine, v2 as on most hosts)."""

import shutil
from pathlib import Path

import pytest

from roost.runner.cpu import policy
from roost.runner.cpu.cgroupfs import shares_to_weight, weight_to_cpus
from roost.runner.cpu.controller import DISCOVER_TICKS, CpuController

PARENT = "roost-test"


class FakeTree:
    """A cgroup filesystem in a directory: usage is advanced by hand, quotas are read back."""

    def __init__(self, root: Path, v2: bool) -> None:
        self.root, self.v2 = root, v2
        if v2:
            (root / "cgroup.controllers").write_text("cpu memory pids\n")

    def cpu_dir(self, env: str) -> Path:
        return self.root / PARENT / env if self.v2 else self.root / "cpu" / PARENT / env

    def add(self, env: str, cpus: float, quota_us: int | None = None) -> None:
        shares = int(cpus * 1024)
        d = self.cpu_dir(env)
        d.mkdir(parents=True)
        if self.v2:
            (d / "cpu.weight").write_text(f"{shares_to_weight(shares)}\n")
            (d / "cpu.max").write_text(f"{quota_us if quota_us else 'max'} 100000\n")
            (d / "cpu.stat").write_text("usage_usec 0\nuser_usec 0\nsystem_usec 0\n")
            return
        (d / "cpu.shares").write_text(f"{shares}\n")
        (d / "cpu.cfs_period_us").write_text("100000\n")
        (d / "cpu.cfs_quota_us").write_text(f"{quota_us or -1}\n")
        acct = self.root / "cpuacct" / PARENT / env
        acct.mkdir(parents=True)
        (acct / "cpuacct.usage").write_text("0\n")

    def use(self, env: str, seconds: float) -> None:
        if self.v2:
            path = self.cpu_dir(env) / "cpu.stat"
            usec = int(path.read_text().split()[1]) + int(seconds * 1e6)
            path.write_text(f"usage_usec {usec}\nuser_usec 0\nsystem_usec 0\n")
            return
        path = self.root / "cpuacct" / PARENT / env / "cpuacct.usage"
        path.write_text(f"{int(path.read_text()) + int(seconds * 1e9)}\n")

    def weight_file(self, env: str) -> Path:
        return self.cpu_dir(env) / ("cpu.weight" if self.v2 else "cpu.shares")

    def limit(self, env: str) -> float:
        if self.v2:
            quota, period = (self.cpu_dir(env) / "cpu.max").read_text().split()
        else:
            quota = (self.cpu_dir(env) / "cpu.cfs_quota_us").read_text()
            period = (self.cpu_dir(env) / "cpu.cfs_period_us").read_text()
        return int(quota) / int(period)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["v1", "v2"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> FakeTree:
    return FakeTree(tmp_path, v2=request.param == "v2")


def advance(loop: CpuController, clock: Clock, tree: FakeTree, usage: dict[str, float]) -> None:
    clock.now += policy.TICK_SECONDS
    for env, cpus in usage.items():
        tree.use(env, cpus * policy.TICK_SECONDS)
    loop.tick()


def test_a_spinner_is_held_to_its_share_and_its_neighbour_is_not(tree: FakeTree) -> None:
    tree.add("spin", cpus=2)
    tree.add("shell", cpus=2)
    clock = Clock()
    loop = CpuController(PARENT, cpus=2, root=tree.root, clock=clock)
    loop.tick()  # discovers both, takes the first readings
    for _ in range(12):  # 6 s
        advance(loop, clock, tree, {"spin": 2.0, "shell": 0.1})
    assert tree.limit("spin") == pytest.approx(1.0)  # share: 2 CPUs for two active class-2
    assert tree.limit("shell") == 2.0
    assert tree.weight_file("spin").read_text() == ("1" if tree.v2 else "2")  # demoted
    assert tree.weight_file("shell").read_text().strip() == ("79" if tree.v2 else "2048")
    state = loop.state("spin")
    assert state is not None and state.budget == 0.0 and state.share == 1.0
    for _ in range(10):  # the spinner stops: its budget comes back
        advance(loop, clock, tree, {"spin": 0.0, "shell": 0.1})
    assert tree.limit("spin") == 2.0
    assert tree.weight_file("spin").read_text() == ("79" if tree.v2 else "2048")
    # a restarted runner does not guess the class of a demoted cgroup: it waits for track()
    tree.weight_file("spin").write_text("1" if tree.v2 else "2")
    fresh = CpuController(PARENT, cpus=2, root=tree.root, clock=clock)
    fresh.tick()
    assert fresh.tracked() == ["shell"]
    fresh.track("spin", 2)
    assert fresh.tracked() == ["shell", "spin"]


def test_restart_keeps_a_held_environment_held(tree: FakeTree) -> None:
    tree.add("spin", cpus=1, quota_us=100_000)  # the limit a previous runner wrote: its share
    tree.add("idle", cpus=1)
    clock = Clock()
    loop = CpuController(PARENT, cpus=2, root=tree.root, clock=clock)
    loop.tick()
    advance(loop, clock, tree, {"spin": 1.0})
    assert tree.limit("spin") == pytest.approx(1.0)
    assert tree.limit("idle") == 2.0
    assert loop.state("spin") is not None and loop.state("spin").weight == 1.0  # type: ignore[union-attr]


def test_track_and_forget_and_gone_cgroups(tree: FakeTree) -> None:
    clock = Clock()
    loop = CpuController(PARENT, cpus=2, root=tree.root, clock=clock)
    loop.tick()
    tree.add("new", cpus=0.5)
    loop.track("new", 0.5)
    advance(loop, clock, tree, {})
    advance(loop, clock, tree, {"new": 2.0})
    assert loop.tracked() == ["new"]
    loop.track("new", 1.0)  # a live resize keeps the bucket, bounded by the new capacity
    assert loop.state("new").weight == 1.0  # type: ignore[union-attr]
    loop.forget("new")
    assert loop.tracked() == []
    tree.add("gone", cpus=1)
    loop.track("gone", 1.0)
    shutil.rmtree(tree.cpu_dir("gone"))  # stopped: the next discovery drops it
    shutil.rmtree(tree.root / "cpuacct" / PARENT / "gone", ignore_errors=True)
    for _ in range(DISCOVER_TICKS):
        advance(loop, clock, tree, {})
    assert "gone" not in loop.tracked()


def test_weights_survive_the_v2_conversion() -> None:
    for cpus in (0.1, 0.5, 1, 2, 4, 16):
        assert weight_to_cpus(shares_to_weight(int(cpus * 1024))) == pytest.approx(cpus, abs=0.01)
