"""CPU fairness: each environment's fair share plus a burst budget, held by a control loop.

:mod:`.policy` is the arithmetic (pure), :mod:`.cgroupfs` reads usage and writes CFS quotas
for cgroup v1 and v2, :mod:`.controller` is the loop. ``docs/resources.md`` explains the loop,
its constants and the measurements they come from.
"""

from roost.runner.cpu.controller import CpuController, CpuState

__all__ = ["CpuController", "CpuState"]
