"""The ``resources`` condition: the limits in force, the OOM kills, the forks the pids limit
refused, what did not apply.

Reported on every pass of a running environment (as a step, :class:`ResourcesStep`), and
written only when its message changes -- so the message carries what a user must see (the
limits, that a process was killed, what needs a restart) and nothing that moves by itself
(usage figures would rewrite the status on every pass). For example::

    resources  ready  2 CPU (bursts to 2), 4096 MiB, 20 GiB disk, 4096 pids; out of memory
                      1x: killed python3 (pid 11232) at 2026-11-28T16:03:04Z

with details ``{"oom_kills": 1, "last_oom": {"process": "python3", "pid": 11232,
"at": "...", "rss_kib": 65032}, "not_applied": [...]}``.
"""

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from roost.core.schemas.environments import Environment
from roost.runner.cpu import CpuController
from roost.runner.resources.oom import OomKill, OomWatcher
from roost.runner.resources.readings import ReadingsBuffer
from roost.runner.runtime.base import Stats
from roost.runner.steps import Step, StepContext


def _mbit(value: int | None) -> str:
    return f"{value} Mbit/s" if value else "uncapped"


def limits_text(env: Environment, burst_cpus: float | None) -> str:
    r = env.spec.resources
    bursts = burst_cpus is not None and burst_cpus > r.cpu
    cpu = f"{r.cpu:g} CPU" + (f" (bursts to {burst_cpus:g})" if bursts else "")
    text = f"{cpu}, {r.memory_mib} MiB, {r.disk_gib} GiB disk, {r.pids} pids"
    if r.upload_mbit or r.download_mbit:
        text += f", upload {_mbit(r.upload_mbit)}, download {_mbit(r.download_mbit)}"
    if env.spec.egress_allow is not None:
        count = len(env.spec.egress_allow)
        text += f", egress to {count} network{'s' if count != 1 else ''} only"
    return text


def oom_text(count: int, kill: OomKill | None) -> str:
    if not count and kill is None:
        return ""
    count = max(count, 1)
    if kill is None:
        return (
            f"out of memory {count}x: {'a process was' if count == 1 else 'processes were'} "
            "killed (the kernel log no longer says which)"
        )
    at = kill.at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"out of memory {count}x: killed {kill.process} (pid {kill.pid}) at {at}"


def pids_text(hits: int, limit: int) -> str:
    if not hits:
        return ""
    return (
        f"process limit reached ({limit} pids): {hits} new process{'es' if hits != 1 else ''} "
        "refused; end some, or use a class with more pids"
    )


def describe(
    env: Environment,
    stats: Stats,
    kill: OomKill | None,
    notes: list[str],
    burst_cpus: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """The condition's message and details."""
    parts = [
        limits_text(env, burst_cpus), oom_text(stats.oom_kills, kill),
        pids_text(stats.pids_limit_hits, env.spec.resources.pids),
    ]  # fmt: skip
    if notes:
        parts.append("not applied: " + "; ".join(notes))
    details: dict[str, Any] = {"oom_kills": stats.oom_kills, "not_applied": list(notes),
                               "pids_limit_hits": stats.pids_limit_hits}  # fmt: skip
    if kill is not None:
        details["last_oom"] = {
            "process": kill.process, "pid": kill.pid, "at": kill.at.isoformat(),
            "rss_kib": kill.rss_kib,
        }  # fmt: skip
    return "; ".join(p for p in parts if p), details


class ResourcesStep(Step):
    """Reports the ``resources`` condition of running environments."""

    name = "resources"

    def __init__(
        self,
        oom: OomWatcher | None = None,
        cpu: CpuController | None = None,
        readings: ReadingsBuffer | None = None,
    ) -> None:
        self.oom = oom
        self.cpu = cpu
        self.readings = readings

    async def after_start(self, ctx: StepContext) -> None:
        env = ctx.env
        if self.cpu is not None:  # level-triggered: every pass restates the class's CPU
            with contextlib.suppress(OSError):  # a runtime without this cgroup layout
                await asyncio.to_thread(self.cpu.track, env.id, env.spec.resources.cpu)
        stats = await ctx.driver.stats(env.id)
        if self.readings is not None:
            await self.readings.add(env.id, stats)
        kill = self.oom.last(env.id) if self.oom else None
        notes = list(ctx.local.resource_notes) if ctx.local is not None else []
        burst = self.cpu.cpus if self.cpu is not None else None
        message, details = describe(env, stats, kill, notes, burst)
        await ctx.report("resources", "ready", message, **details)

    async def on_remove(self, env_id: str, workspace: Path) -> None:
        if self.oom is not None:
            self.oom.forget(env_id)
