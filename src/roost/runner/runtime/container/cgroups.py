"""Cgroup layouts: v2 (unified, most hosts), v1, and the hybrid this project's VMs have.

crun refuses a hybrid layout whose v2 mount still holds a controller ("cgroups in hybrid mode not
supported, drop all controllers from cgroupv2"). On these hosts that controller is hugetlb; the
fix, once per boot, is to mount it as v1 too, which empties the v2 mount's controller list.
:func:`fix_hybrid` does exactly that and nothing else; :func:`detect` reports what it found.

Stats and OOM events are read from the controller files of the environment's cgroup.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path("/sys/fs/cgroup")
Layout = Literal["v2", "v1", "hybrid"]


@dataclass(frozen=True)
class CgroupInfo:
    layout: Layout
    swap_accounting: bool
    problems: tuple[str, ...] = ()


def _unified_controllers(root: Path) -> list[str]:
    for path in (root / "cgroup.controllers", root / "unified" / "cgroup.controllers"):
        if path.exists():
            return path.read_text().split()
    return []


def detect(root: Path = ROOT) -> CgroupInfo:
    problems = []
    if (root / "cgroup.controllers").exists():
        have = set(_unified_controllers(root))
        missing = {"cpu", "memory", "pids"} - have
        if missing:
            problems.append(f"cgroup v2 lacks the controllers {sorted(missing)}")
        # memory.swap.max exists in child cgroups when the kernel accounts swap
        swap = any(
            (child / "memory.swap.max").exists() for child in root.iterdir() if child.is_dir()
        )
        return CgroupInfo("v2", swap, tuple(problems))
    for controller in ("cpu", "memory", "pids", "devices"):
        if not (root / controller).is_dir():
            problems.append(
                f"cgroup v1 controller {controller} is not mounted at {root / controller}"
            )
    leftover = _unified_controllers(root)
    if leftover:
        problems.append(
            f"hybrid cgroups with controllers {leftover} on cgroup v2, which crun refuses"
        )
    swap = (root / "memory" / "memory.memsw.limit_in_bytes").exists()
    layout: Layout = "hybrid" if (root / "unified").exists() else "v1"
    return CgroupInfo(layout, swap, tuple(problems))


def fix_hybrid(root: Path = ROOT) -> list[str]:
    """Move controllers stranded on the v2 mount of a hybrid layout to v1; returns what moved."""
    if (root / "cgroup.controllers").exists() or not (root / "unified").exists():
        return []
    moved = []
    for controller in _unified_controllers(root):
        target = root / controller
        target.mkdir(exist_ok=True)
        subprocess.run(
            ["mount", "-t", "cgroup", "-o", controller, "cgroup", str(target)],
            check=True, capture_output=True,
        )  # fmt: skip
        moved.append(controller)
    return moved


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _kv(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def stats(path: str, root: Path = ROOT) -> dict[str, int]:
    """memory, memory limit, cpu ns, pids, OOM kills and refused forks (the pids limit) of the
    cgroup at ``path``."""
    rel = path.strip("/")
    if (root / "cgroup.controllers").exists():
        base = root / rel
        return {
            "memory": _read_int(base / "memory.current"),
            "memory_limit": _read_int(base / "memory.max"),
            "cpu_ns": _kv(base / "cpu.stat").get("usage_usec", 0) * 1000,
            "pids": _read_int(base / "pids.current"),
            "oom_kills": _kv(base / "memory.events").get("oom_kill", 0),
            "pids_limit_hits": _kv(base / "pids.events").get("max", 0),
        }
    return {
        "memory": _read_int(root / "memory" / rel / "memory.usage_in_bytes"),
        "memory_limit": _read_int(root / "memory" / rel / "memory.limit_in_bytes"),
        "cpu_ns": _read_int(root / "cpuacct" / rel / "cpuacct.usage"),
        "pids": _read_int(root / "pids" / rel / "pids.current"),
        "oom_kills": _kv(root / "memory" / rel / "memory.oom_control").get("oom_kill", 0),
        "pids_limit_hits": _kv(root / "pids" / rel / "pids.events").get("max", 0),
    }


CPU_PERIOD_US = 100_000


def set_cpu_quota(path: str, cpus: float, root: Path = ROOT) -> None:
    """Limit the cgroup at ``path`` to ``cpus`` CPUs (CFS quota per 100 ms period)."""
    rel = path.strip("/")
    quota = max(1000, int(cpus * CPU_PERIOD_US))
    if (root / "cgroup.controllers").exists():
        (root / rel / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
        return
    base = root / "cpu" / rel
    (base / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
    (base / "cpu.cfs_quota_us").write_text(str(quota))


def _write(path: Path, value: str) -> str | None:
    """Write a limit; the kernel's refusal, in words, or None."""
    try:
        path.write_text(value)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _memory_v1(base: Path, limit: int, swap: bool) -> str | None:
    """memsw must stay >= memory, so the order of the two writes depends on the direction."""
    files = [base / "memory.limit_in_bytes"]
    if swap:
        memsw = base / "memory.memsw.limit_in_bytes"
        files = [memsw, *files] if limit > _read_int(memsw) else [*files, memsw]
    for path in files:
        refused = _write(path, str(limit))
        if refused:
            return refused
    return None


def update(
    path: str,
    *,
    cpus: float | None,
    memory_bytes: int,
    pids: int,
    swap: bool,
    root: Path = ROOT,
) -> list[str]:
    """Change a running cgroup's weight (unless ``cpus`` is None), memory and pids limits in
    place (no process).

    Returns ``"<limit>: <why>"`` for each limit left as it was. A memory limit below what the
    environment uses now is not written: on v2 the kernel would OOM-kill to get there, on v1 it
    refuses (EBUSY); it applies at the next start instead. A pids limit below the current count
    applies at once (new forks fail until enough processes exit).
    """
    rel = path.strip("/")
    v2 = (root / "cgroup.controllers").exists()
    notes = []
    used = stats(path, root)["memory"]
    if used > memory_bytes:
        notes.append(
            f"memory_mib: the environment uses {used >> 20} MiB, more than the new limit of "
            f"{memory_bytes >> 20} MiB; it applies at the next start"
        )
    elif v2:  # memory.swap.max stays 0 from the start: no swap beyond the limit
        if refused := _write(root / rel / "memory.max", str(memory_bytes)):
            notes.append(f"memory_mib: {refused}; it applies at the next start")
    elif refused := _memory_v1(root / "memory" / rel, memory_bytes, swap):
        notes.append(f"memory_mib: {refused}; it applies at the next start")
    pids_file = root / rel / "pids.max" if v2 else root / "pids" / rel / "pids.max"
    writes = [("pids", pids_file, str(pids))]
    if cpus is not None:  # None: the CPU loop owns the weight
        shares = max(2, int(cpus * 1024))
        weight_file = root / rel / "cpu.weight" if v2 else root / "cpu" / rel / "cpu.shares"
        writes.append(("cpu", weight_file, str(shares_to_weight(shares) if v2 else shares)))
    for name, target, value in writes:
        if refused := _write(target, value):
            notes.append(f"{name}: {refused}; it applies at the next start")
    return notes


def shares_to_weight(shares: int) -> int:
    """crun's (and runc's) conversion of v1 shares to a v2 weight."""
    return 1 + ((max(2, min(262144, shares)) - 2) * 9999) // 262142
