"""Where should an environment run? Pure logic, no I/O, so every rule is unit-tested.

A runner fits when it is online, matches the spec's ``runner`` / ``region`` constraints, offers
the class's runtime, and has room: allocated + requested <= capacity x overcommit for CPU, memory
and disk, and the environment count within the runner's limit. Class values are limits, not
reservations -- development environments idle most of the time, and a writable layer grows only
as it is written -- so all three are overcommitted by default (4x CPU, 2x memory, 4x disk; the
runner reports its total disk). Among fitting runners the one with the most free CPU wins
(spreading load) -- except that a runner which already has the image comes first (image
locality: no pull); ties go by name for determinism. When nothing fits, the answer says why for
each runner.
"""

from dataclasses import dataclass

from roost.core.schemas.environments import EnvironmentSpec
from roost.core.schemas.runners import Capacity, Runner


@dataclass(frozen=True)
class Placement:
    runner: Runner | None
    reason: str
    """Why nothing fits (empty when ``runner`` is set)."""


@dataclass(frozen=True)
class Overcommit:
    cpu: float = 4.0
    memory: float = 2.0
    disk: float = 1.0


def misfit(
    runner: Runner,
    spec: EnvironmentSpec,
    allocated: Capacity,
    overcommit: Overcommit,
    backup_location: str | None = None,
) -> str | None:
    """Why ``runner`` cannot take ``spec``, or None if it can. An environment with a backup
    (``backup_location``) goes only to runners that reach it: its work is there."""
    want = spec.resources
    cap = runner.capacity
    checks = [
        (runner.state != "online", runner.state),
        (runner.draining, "draining"),
        (
            bool(backup_location) and runner.backup_location != backup_location,
            f"cannot reach the environment's backup at {backup_location}",
        ),
        (
            bool(spec.runner) and spec.runner not in (runner.id, runner.name),
            "not the requested runner",
        ),
        (bool(spec.region) and spec.region != runner.region, f"in region {runner.region}"),
        (want.runtime not in runner.runtimes, f"no {want.runtime} runtime"),
        (
            allocated.cpu + want.cpu > cap.cpu * overcommit.cpu,
            f"not enough CPU ({cap.cpu * overcommit.cpu - allocated.cpu:g} of {want.cpu:g} free)",
        ),
        (
            allocated.memory_mib + want.memory_mib > cap.memory_mib * overcommit.memory,
            f"not enough memory ({cap.memory_mib * overcommit.memory - allocated.memory_mib:.0f} "
            f"of {want.memory_mib} MiB free)",
        ),
        (
            allocated.disk_gib + want.disk_gib > cap.disk_gib * overcommit.disk,
            f"not enough disk ({cap.disk_gib * overcommit.disk - allocated.disk_gib:.0f} of "
            f"{want.disk_gib} GiB free)",
        ),
        (allocated.environments + 1 > cap.environments, "at its environment limit"),
    ]
    for failed, why in checks:
        if failed:
            return why
    return None


def place(
    spec: EnvironmentSpec,
    runners: list[Runner],
    allocations: dict[str, Capacity],
    overcommit: Overcommit,
    backup_location: str | None = None,
) -> Placement:
    if not runners:
        return Placement(None, "no runners are registered; start one with `roost runner`")
    fitting: list[Runner] = []
    reasons: list[str] = []
    for runner in sorted(runners, key=lambda r: r.name):
        allocated = allocations.get(runner.id, Capacity())
        why = misfit(runner, spec, allocated, overcommit, backup_location)
        if why is None:
            fitting.append(runner)
        else:
            reasons.append(f"{runner.name}: {why}")
    if not fitting:
        return Placement(None, "no runner fits: " + "; ".join(reasons))

    def score(r: Runner) -> tuple[int, float, str]:
        free = r.capacity.cpu * overcommit.cpu - allocations.get(r.id, Capacity()).cpu
        has_image = int(bool(spec.image) and spec.image in r.images)
        return (-has_image, -free, r.name)

    return Placement(min(fitting, key=score), "")
