"""The CPU control loop: measure every environment, apply :mod:`.policy`, write CFS quotas.

One asyncio task per runner; each tick runs on a worker thread (file reads and writes, no
process) and takes about 2 microseconds per environment to read plus a few to decide.

Level-triggered and restart-safe: the loop owns no state that the kernel does not also hold.
The environments are the children of the runner's cgroup parent (found again every
``DISCOVER_TICKS``), their weights are their ``cpu.shares``/``cpu.weight`` (set from the class
at start and on resize), and a bucket is rebuilt from the quota the loop last wrote: a runner
restarted while an environment was held at its share keeps holding it there, and one that was
free starts with a full bucket. A cgroup found at the minimum weight (demoted: its class is not
readable) waits for :meth:`track`, which the driver calls at start and on resize and the
reconciler on every pass, so a new environment is governed from the next tick rather than the
next discovery, and a restarted runner learns every class within its first resync.
"""

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from roost.runner import metrics
from roost.runner.cpu import policy
from roost.runner.cpu.cgroupfs import ROOT, CpuFiles, children

log = logging.getLogger(__name__)

DISCOVER_TICKS = 20
"""Re-list the cgroup parent every 10 s: environments started by an earlier runner process."""

WRITE_EPSILON = 0.005
"""Limits closer than this (CPUs) to the one in place are not rewritten."""


@dataclass(frozen=True)
class CpuState:
    """What the loop last decided for one environment (for status and benchmarks)."""

    weight: float
    share: float
    budget: float
    limit: float
    used: float
    demoted: bool = False


@dataclass(slots=True)
class _Tracked:
    files: CpuFiles
    weight: float
    budget: float
    limit: float | None = None
    last_ns: int | None = None
    share: float = 0.0
    used: float = 0.0
    active_until: float = 0.0
    demoted: bool = False
    weight_written: float | None = -1.0
    """The weight in the file: the class's, ``None`` for the minimum, -1 for "not known"."""


def host_cpus() -> float:
    return float(len(os.sched_getaffinity(0)))


class CpuController:
    def __init__(
        self,
        parent: str,
        *,
        cpus: float | None = None,
        root: Path = ROOT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parent = parent.strip("/")
        self.cpus = cpus or host_cpus()
        self.root = root
        self.clock = clock
        self._envs: dict[str, _Tracked] = {}
        self._lock = threading.Lock()
        self._last_tick: float | None = None
        self._ticks = 0

    def _open(self, env_id: str) -> CpuFiles:
        return CpuFiles(f"/{self.parent}/{env_id}", self.root)

    def track(self, env_id: str, weight: float) -> None:
        """Govern ``env_id`` (its cgroup exists) with class ``weight``; a new one starts with a
        full bucket, a known one just takes the new weight (a live resize)."""
        with self._lock:
            found = self._envs.get(env_id)
            if found is not None:
                if found.weight != weight:
                    found.weight = weight
                    found.budget = min(found.budget, policy.capacity(weight))
                    self._write_weight(found, None if found.demoted else weight)
                return
        files = self._open(env_id)
        with self._lock:
            self._envs.setdefault(env_id, _Tracked(files, weight, policy.capacity(weight)))

    def forget(self, env_id: str) -> None:
        with self._lock:
            found = self._envs.pop(env_id, None)
        if found is not None:
            found.files.close()

    def state(self, env_id: str) -> CpuState | None:
        found = self._envs.get(env_id)
        if found is None or found.limit is None:
            return None
        return CpuState(
            found.weight, found.share, found.budget, found.limit, found.used, found.demoted
        )

    def tracked(self) -> list[str]:
        with self._lock:
            return sorted(self._envs)

    def discover(self) -> None:
        """Adopt environment cgroups this loop does not know yet; drop the ones gone."""
        present = set(children(self.parent, self.root))
        with self._lock:
            known = set(self._envs)
        for env_id in known - present:
            self.forget(env_id)
        for env_id in sorted(present - known):
            try:
                files = self._open(env_id)
                weight = files.weight_cpus()
                limit = files.limit_cpus()
            except (OSError, ValueError):
                continue  # being created or removed right now: the next discovery sees it
            if weight is None:
                files.close()
                continue  # demoted by an earlier runner: its class comes with track()
            budget = policy.budget_from_limit(
                self.cpus if limit is None else limit, weight, self.cpus
            )
            env = _Tracked(files, weight, budget, limit, weight_written=weight)
            with self._lock:
                self._envs.setdefault(env_id, env)

    def tick(self) -> None:
        """One control period: measure, decide, write what changed."""
        now = self.clock()
        if self._ticks % DISCOVER_TICKS == 0:
            self.discover()
        self._ticks += 1
        dt = now - self._last_tick if self._last_tick is not None else 0.0
        self._last_tick = now
        with self._lock:
            items = list(self._envs.items())
        samples: list[tuple[_Tracked, policy.Sample]] = []
        for env_id, env in items:
            try:
                usage = env.files.usage_ns()
            except (OSError, ValueError):
                self.forget(env_id)
                continue
            if env.last_ns is not None and dt > 0:
                env.used = max(0, usage - env.last_ns) / 1e9 / dt
                if env.used >= policy.ACTIVE_CPU:
                    env.active_until = now + policy.ACTIVE_HOLD_SECONDS
                active = env.active_until > now
                samples.append((env, policy.Sample(env.weight, env.used, active)))
            env.last_ns = usage
        factor = policy.scale([s for _, s in samples], self.cpus)
        for env, sample in samples:
            decision = policy.decide(sample, env.budget, factor, self.cpus, dt, demoted=env.demoted)
            env.budget, env.share, env.demoted = decision.budget, decision.share, decision.demoted
            if env.limit is None or abs(decision.limit - env.limit) > WRITE_EPSILON:
                self._write_limit(env, decision.limit)
            weight = None if env.demoted else env.weight
            if weight != env.weight_written:
                self._write_weight(env, weight)

    @staticmethod
    def _write_limit(env: _Tracked, limit: float) -> None:
        try:
            env.files.set_limit(limit)
        except OSError as exc:
            log.debug("setting the CPU limit of %s: %s", env.files.cpu_dir, exc)
            return
        env.limit = limit

    @staticmethod
    def _write_weight(env: _Tracked, weight: float | None) -> None:
        try:
            env.files.set_weight(weight)
        except OSError as exc:
            log.debug("setting the CPU weight of %s: %s", env.files.cpu_dir, exc)
            return
        env.weight_written = weight

    async def run(self) -> None:
        """Tick forever (cancel to stop); a failing tick is logged and the next one tries."""
        while True:
            started = time.perf_counter()
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("CPU control tick failed")
            elapsed = time.perf_counter() - started
            metrics.cpu_tick.set(elapsed)
            metrics.cpu_environments.set(len(self.tracked()))
            await asyncio.sleep(max(0.0, policy.TICK_SECONDS - elapsed))

    def close(self) -> None:
        for env_id in self.tracked():
            self.forget(env_id)
