"""Steps: the parts of an environment beyond its machine, plugged into the reconciler.

The reconciler owns the machine (image, ids, network, container). Everything else an
environment has -- its workspace content, its devcontainer, automations, backups, ports -- is a
:class:`Step` with hooks the reconciler calls at fixed points of each pass::

    before_start   the container does not run yet (restore a backup, clone a repository)
    after_start    the container runs (devcontainer hooks, automations, forwarded ports)
    before_stop    the container still runs (a last backup needs quiet files: after stop)
    after_stop     the container is gone, files kept (back up the workspace)
    on_remove      everything is being deleted (delete backups after their retention)

A step may also say that a running environment must *leave* this runner (:meth:`Step.leaving`:
it is pinned to another one); the reconciler then stops it and calls ``after_stop``, where the
backup step backs it up and hands it over.

Hooks are level-triggered and idempotent like the rest: each pass calls them, and a step
that already did its work (recorded in its own condition or local state) returns at once. A
step reports its own condition (``ctx.report``); raising a ``TemporaryError`` retries the
pass, any other :class:`~roost.core.errors.RoostError` fails it with the step's message.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from roost.core.schemas.environments import Environment
from roost.runner.runtime.base import RuntimeDriver
from roost.runner.state import LocalEnv

ReportPart = Callable[..., Awaitable[None]]


@dataclass
class StepContext:
    env: Environment
    driver: RuntimeDriver
    local: LocalEnv | None
    workspace: Path
    report: ReportPart
    """``await ctx.report(part, phase, message, **details)`` sets one condition (the
    environment's phase is the pass's: ``creating``, ``running``, ``stopping``...)."""
    pid: int | None = None
    """PID 1 of the running environment, when the reconciler already knows it (after start)."""

    async def running_pid(self) -> int | None:
        """PID 1 (which tells one run of the environment from the next), asked of the runtime
        only when the reconciler did not know it."""
        return self.pid if self.pid is not None else (await self.driver.inspect(self.env.id)).pid


class Step:
    """No-op hooks; subclasses override what they need."""

    name = "step"

    def leaving(self, env: Environment) -> bool:
        """Whether ``env`` must be stopped here and handed to another runner."""
        return False

    async def before_start(self, ctx: StepContext) -> None:
        return None

    async def after_start(self, ctx: StepContext) -> None:
        return None

    async def before_stop(self, ctx: StepContext) -> None:
        return None

    async def after_stop(self, ctx: StepContext) -> None:
        return None

    async def on_remove(self, env_id: str, workspace: Path) -> None:
        return None
