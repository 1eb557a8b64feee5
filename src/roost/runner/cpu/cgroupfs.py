"""CPU accounting and CFS quota files of environment cgroups, v1 and v2, without processes.

=============  ==========================================  ===================================
               cgroup v1 (this project's VMs)              cgroup v2 (most hosts)
=============  ==========================================  ===================================
usage          ``cpuacct/<path>/cpuacct.usage`` (ns)       ``<path>/cpu.stat`` ``usage_usec``
limit          ``cpu/<path>/cpu.cfs_quota_us`` (+period)   ``<path>/cpu.max`` ("quota period")
weight         ``cpu/<path>/cpu.shares`` (1024 per CPU)    ``<path>/cpu.weight`` (from shares)
=============  ==========================================  ===================================

The loop writes limits and, while an environment's burst budget is empty, the minimum weight.

The usage file of each environment stays open and is read with ``pread`` at offset 0 (about
2 microseconds, against 8 for open/read/close): at 500 environments and two ticks a second that
is the whole cost of measuring. Limits are written only when they change.

A cgroup that disappears (the environment stopped) answers ``ENODEV``/``ENOENT``; the caller
drops it. Everything takes the cgroup root as a parameter so that tests can use a fake tree.
"""

import contextlib
import os
from pathlib import Path

from roost.runner.runtime.container.cgroups import shares_to_weight

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000
MIN_SHARES, MIN_WEIGHT = 2, 1
"""The kernel's minimum weights; classes never get them (at least one more), so a cgroup at
the minimum is one the loop demoted."""


def is_v2(root: Path = ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def weight_to_cpus(weight: int) -> float:
    """Inverse of ``shares_to_weight(cpus * 1024)`` (to within a few hundredths)."""
    cpus = ((weight - 1) * 262142 / 9999 + 2) / 1024
    for digits in (0, 1, 2):  # the roundest class size that converts to this weight
        candidate = round(cpus, digits)
        if candidate > 0 and shares_to_weight(int(candidate * 1024)) == weight:
            return candidate
    return max(0.01, round(cpus, 2))


class CpuFiles:
    """The files of one environment's cgroup at ``path`` (``/<parent>/<env-id>``)."""

    def __init__(self, path: str, root: Path = ROOT) -> None:
        rel = path.strip("/")
        self.v2 = is_v2(root)
        if self.v2:
            self.usage_path = root / rel / "cpu.stat"
            self.cpu_dir = root / rel
        else:
            self.usage_path = root / "cpuacct" / rel / "cpuacct.usage"
            self.cpu_dir = root / "cpu" / rel
        self._fd = os.open(self.usage_path, os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def usage_ns(self) -> int:
        """Cumulative CPU time; raises OSError when the cgroup is gone."""
        data = os.pread(self._fd, 512, 0)
        if not self.v2:
            return int(data)
        for line in data.split(b"\n"):
            if line.startswith(b"usage_usec "):
                return int(line.split()[1]) * 1000
        raise OSError(f"no usage_usec in {self.usage_path}")

    def limit_cpus(self) -> float | None:
        """The current CFS limit in CPUs; ``None`` for unlimited."""
        if self.v2:
            quota, _, period = (self.cpu_dir / "cpu.max").read_text().partition(" ")
        else:
            quota = (self.cpu_dir / "cpu.cfs_quota_us").read_text()
            period = (self.cpu_dir / "cpu.cfs_period_us").read_text()
        if quota.strip() in ("max", "-1"):
            return None
        return int(quota) / int(period)

    def set_limit(self, cpus: float) -> None:
        quota = max(1000, round(cpus * PERIOD_US))
        if self.v2:
            (self.cpu_dir / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            return
        period = self.cpu_dir / "cpu.cfs_period_us"
        if period.read_text().strip() != str(PERIOD_US):
            period.write_text(str(PERIOD_US))
        (self.cpu_dir / "cpu.cfs_quota_us").write_text(str(quota))

    def weight_cpus(self) -> float | None:
        """The class CPUs the cgroup was given, read back from its shares or weight; ``None``
        while the loop holds it at the minimum (the class is then unknown here)."""
        if self.v2:
            weight = int((self.cpu_dir / "cpu.weight").read_text())
            return None if weight <= MIN_WEIGHT else weight_to_cpus(weight)
        shares = int((self.cpu_dir / "cpu.shares").read_text())
        return None if shares <= MIN_SHARES else max(0.01, round(shares / 1024, 2))

    def set_weight(self, cpus: float | None) -> None:
        """The class's weight, or the minimum (``None``)."""
        shares = MIN_SHARES if cpus is None else max(MIN_SHARES + 1, int(cpus * 1024))
        if self.v2:
            weight = MIN_WEIGHT if cpus is None else max(MIN_WEIGHT + 1, shares_to_weight(shares))
            (self.cpu_dir / "cpu.weight").write_text(str(weight))
        else:
            (self.cpu_dir / "cpu.shares").write_text(str(shares))


def children(parent: str, root: Path = ROOT) -> list[str]:
    """Names of the environment cgroups under ``/<parent>``."""
    base = root / parent.strip("/") if is_v2(root) else root / "cpu" / parent.strip("/")
    try:
        return sorted(p.name for p in base.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []
