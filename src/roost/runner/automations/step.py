"""The automations step: reads the environment's ``automations.yaml`` at each start, fires the
start triggers once the devcontainer has settled, and reports the ``automations`` condition.

* **When**: after every start of the container (a new PID 1), once the devcontainer's hooks --
  ``postCreateCommand`` and the dotfiles included -- have finished, so that services find the
  dependencies those hooks installed. ``postEnvironmentStart`` and ``postDevcontainerStart``
  items start then; ``manual`` and ``prebuild`` items wait for ``roost env task run`` /
  ``roost env service start``.
* **The file** is read at each start, so an edited file applies at the next one; an invalid file
  marks the condition failed with file, line and problem and leaves the environment running.
* **Stop**: services are stopped before the container (their ``stop`` commands run while it
  still can), and the states say ``stopped``.
* **A runner restart** leaves the environment running but its services without the runner
  reading their output: the process groups recorded in ``<data>/automations/<id>.json`` are
  killed and the services started again; finished tasks are not re-run.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from roost.core.schemas.environments import Environment
from roost.runner.automations import config, process
from roost.runner.automations.manager import EnvironmentAutomations, ItemState
from roost.runner.devcontainer.logs import LogStore
from roost.runner.runtime.base import RuntimeDriver
from roost.runner.state import LocalEnv, StateStore
from roost.runner.steps import Step, StepContext

log = logging.getLogger(__name__)
ReportRunning = Callable[..., Awaitable[None]]
"""``(env, part, phase, message, **details)`` with the environment ``running``."""
WaitFor = Callable[[str], Awaitable[None]]
MAX_FILE = 1 << 20


class AutomationsStep(Step):
    name = "automations"

    def __init__(
        self,
        logs: LogStore,
        state: StateStore,
        directory: Path,
        report: ReportRunning,
        wait_devcontainer: WaitFor | None = None,
    ) -> None:
        self.logs = logs
        self.state = state
        self.dir = directory
        self.report = report
        self.wait_devcontainer = wait_devcontainer
        self.managers: dict[str, EnvironmentAutomations] = {}
        self._envs: dict[str, Environment] = {}
        self._pids: dict[str, int] = {}
        self._starting: dict[str, asyncio.Task[None]] = {}

    def get(self, env_id: str) -> EnvironmentAutomations | None:
        return self.managers.get(env_id)

    async def after_start(self, ctx: StepContext) -> None:
        env_id = ctx.env.id
        self._envs[env_id] = ctx.env  # background reports use the latest copy
        pid = await ctx.running_pid() or 0
        if self._pids.get(env_id) == pid:
            return
        self._pids[env_id] = pid
        self._drop(env_id)
        found = config.find(ctx.workspace, ctx.env.spec.automations_file)
        if found is None:
            return
        shown = str(found.relative_to(ctx.workspace.resolve()))
        try:
            definitions = _load(found, shown)
        except config.AutomationsError as exc:
            await ctx.report("automations", "failed", str(exc))
            return
        recovered = self._recorded(env_id, pid)
        self._starting[env_id] = asyncio.create_task(
            self._start(ctx.driver, env_id, definitions, recovered)
        )

    async def _start(
        self, driver: RuntimeDriver, env_id: str, definitions: config.Automations,
        recovered: dict[str, str] | None,
    ) -> None:  # fmt: skip
        if self.wait_devcontainer is not None:
            await self.wait_devcontainer(env_id)
        local = self.state.load(env_id) or LocalEnv(env_id=env_id)
        target = process.Target(
            driver, env_id, local.remote,
            local.remote_variables, local.workdir or local.workspace_target,
        )  # fmt: skip
        manager = EnvironmentAutomations(
            definitions, target, self.logs, lambda: self._changed(env_id)
        )
        self.managers[env_id] = manager
        for group in (recovered or {}).values():
            await process.signal_group(target, group, "KILL")
        try:
            await manager.trigger(*config.START_TRIGGERS, tasks=recovered is None)
        except Exception:
            log.exception("automations of %s failed to start", env_id)
        await self._changed(env_id)

    async def _changed(self, env_id: str) -> None:
        manager, env = self.managers.get(env_id), self._envs.get(env_id)
        if manager is None or env is None:
            return
        self._record(env_id, manager)
        if env.spec.desired_phase != "running":
            return
        phase, message = summary(manager)
        await self.report(env, "automations", phase, message, **_details(manager))

    async def before_stop(self, ctx: StepContext) -> None:
        manager = self.managers.get(ctx.env.id)
        if manager is not None:
            await manager.stop_all()

    async def after_stop(self, ctx: StepContext) -> None:
        self._drop(ctx.env.id)
        self._pids.pop(ctx.env.id, None)

    async def on_remove(self, env_id: str, workspace: Any) -> None:
        self._drop(env_id)
        self._pids.pop(env_id, None)
        self._envs.pop(env_id, None)
        (self.dir / f"{env_id}.json").unlink(missing_ok=True)

    def _drop(self, env_id: str) -> None:
        starting = self._starting.pop(env_id, None)
        if starting is not None:
            starting.cancel()
        manager = self.managers.pop(env_id, None)
        if manager is not None:
            manager.forget()

    def _record(self, env_id: str, manager: EnvironmentAutomations) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        doc = {"pid": self._pids.get(env_id, 0), "groups": manager.groups()}
        tmp = self.dir / f"{env_id}.tmp"
        tmp.write_text(json.dumps(doc))
        tmp.replace(self.dir / f"{env_id}.json")

    def _recorded(self, env_id: str, pid: int) -> dict[str, str] | None:
        """Service groups a previous runner process left running in this same run, if any."""
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads((self.dir / f"{env_id}.json").read_text())
            if doc.get("pid") == pid:
                return {str(k): str(v) for k, v in doc.get("groups", {}).items()}
        return None


def summary(manager: EnvironmentAutomations) -> tuple[str, str]:
    """The condition's phase and a one-line message that changes whenever a state does."""
    items = [*manager.services.values(), *manager.tasks.values()]
    if not items:
        return "ready", "no services or tasks"
    phases = {i.phase for i in items}
    phase = (
        "failed" if "failed" in phases
        else "progressing" if phases & {"starting", "stopping"} or any(
            t.phase in ("pending", "running") and manager.active(f"task-{t.id}")
            for t in manager.tasks.values()
        )
        else "ready"
    )  # fmt: skip
    parts = [f"{i.id} {i.phase}" for i in items]
    return phase, ", ".join(parts)[:300]


def _details(manager: EnvironmentAutomations) -> dict[str, Any]:
    def states(items: dict[str, ItemState]) -> dict[str, Any]:
        return {i.id: {"phase": i.phase, "message": i.message} for i in items.values()}

    return {"services": states(manager.services), "tasks": states(manager.tasks)}


def _load(path: Path, shown: str) -> config.Automations:
    if path.stat().st_size > MAX_FILE:
        raise config.AutomationsError(shown, 1, "larger than 1 MiB")
    return config.load(path, shown)
