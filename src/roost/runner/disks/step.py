"""The disk as a reconciler step: mounted before the steps that write into the workspace.

The driver makes and mounts the disk when it prepares the root filesystem, which is enough for
correctness (it adopts whatever was written at the paths before). As a step it also runs
*before* the content step, so a repository is cloned straight onto the disk instead of being
copied there afterwards, and a disk that is not mounted (after a host reboot) is mounted before
anything looks at the workspace and finds it empty. The step runs after the backup step: a
restore deletes an environment's leftovers first (its disk included) and writes the restored
files at the paths, which the disk then adopts.

After start, every pass checks the disk's health (``health.py``; the disk watch wakes the pass
when a disk fails): a failed disk fails the environment with the reason, instead of a
``running`` over lost writes. The next start checks it (``e2fsck``) and mounts it afresh.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

from roost.core.errors import PermanentError
from roost.runner.disks.disks import Disks
from roost.runner.steps import Step, StepContext


class DiskStep(Step):
    name = "disk"

    def __init__(self, disks_for: Callable[[str], Disks | None]) -> None:
        self.disks_for = disks_for
        """The disks of a runtime (``container``, ``sandbox``), or None when it has none."""

    async def before_start(self, ctx: StepContext) -> None:
        runtime = ctx.local.runtime if ctx.local is not None else ctx.env.spec.resources.runtime
        disks = self.disks_for(runtime)
        if disks is None:
            return
        if await asyncio.to_thread(disks.health, ctx.env.id) is not None:
            await asyncio.to_thread(disks.repair, ctx.env.id)  # a start after a failure
        await asyncio.to_thread(disks.ensure, ctx.env.id, ctx.env.spec.resources.disk_gib)

    async def after_start(self, ctx: StepContext) -> None:
        runtime = ctx.local.runtime if ctx.local is not None else ctx.env.spec.resources.runtime
        disks = self.disks_for(runtime)
        if disks is None:
            return
        why = await asyncio.to_thread(disks.health, ctx.env.id)
        if why is not None:
            await ctx.report("disk", "failed", why)
            raise PermanentError(why, code="disk_failed")

    async def on_remove(self, env_id: str, workspace: Path) -> None:
        for runtime in ("container", "sandbox"):
            disks = self.disks_for(runtime)
            if disks is not None:
                await asyncio.to_thread(disks.remove, env_id)
