"""The nested-containers step: wire the network, start the engine, report ``containers``.

The network is wired before the environment counts as running (hooks and users need it; it
takes a few milliseconds). The engine starts in the background -- dockerd takes about a second
-- so it adds nothing to create → running: the ``containers`` condition is ``progressing``
until it answers, then ``ready`` (or ``failed``, saying why).
"""

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from roost.runner.nested import engine, mode, netwire
from roost.runner.steps import Step, StepContext

log = logging.getLogger(__name__)
PART = "containers"


class NestedStep(Step):
    name = "nested"

    def __init__(self, netns_path: Callable[[str], Path]) -> None:
        self.netns_path = netns_path
        self._started: dict[str, int] = {}
        """PID 1 of the run each environment's engine was started for."""
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def after_start(self, ctx: StepContext) -> None:
        if ctx.local is None or not mode.wanted(ctx.env, ctx.local):
            return
        pid = await ctx.running_pid()
        if pid is None:
            return
        outer = self.netns_path(ctx.env.id)
        try:
            await asyncio.to_thread(netwire.wire, outer, pid)
        except (netwire.WireError, OSError) as exc:
            await ctx.report(PART, "failed", f"nested network: {exc}")
            return
        if self._started.get(ctx.env.id) == pid:
            return
        self._started[ctx.env.id] = pid
        await ctx.report(PART, "progressing", "starting the container engine")
        self._tasks[ctx.env.id] = asyncio.create_task(self._engine(ctx), name="nested-engine")

    async def _engine(self, ctx: StepContext) -> None:
        try:
            state = await engine.ensure_dockerd(ctx.driver, ctx.env.id)
        except Exception as exc:  # the environment runs on; the condition says why
            state = engine.EngineState("failed", f"{type(exc).__name__}: {exc}")
        await self._report(ctx, state)

    @staticmethod
    async def _report(ctx: StepContext, state: engine.EngineState) -> None:
        if state.state in ("started", "running"):
            await ctx.report(PART, "ready", "nested containers: dockerd runs (and podman works)")
        elif state.state == "absent":
            await ctx.report(PART, "ready", "nested containers: no dockerd in the image")
        else:
            log.warning("%s: dockerd did not start: %s", ctx.env.id, state.detail)
            await ctx.report(
                PART, "failed", f"dockerd did not start; the environment runs without it: "
                f"{state.detail or 'no output'} (see {engine.LOG})",
            )  # fmt: skip

    def _forget(self, env_id: str) -> None:
        self._started.pop(env_id, None)
        task = self._tasks.pop(env_id, None)
        if task is not None:
            task.cancel()

    async def after_stop(self, ctx: StepContext) -> None:
        self._forget(ctx.env.id)
        await asyncio.to_thread(netwire.unwire, self.netns_path(ctx.env.id))

    async def on_remove(self, env_id: str, workspace: Path) -> None:
        self._forget(env_id)
        await asyncio.to_thread(netwire.unwire, self.netns_path(env_id))
