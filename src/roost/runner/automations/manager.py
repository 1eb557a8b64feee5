"""One environment's automations at run time: states, service processes, task runs.

States (what ``roost env automations`` and the ``automations`` condition show):

* a **service** is ``pending`` (not started), ``starting`` (``start`` runs, ``ready`` has not yet
  succeeded), ``ready`` (its ``ready`` command succeeded), ``running`` (started, no ``ready``
  command to ask), ``stopping``, ``stopped`` (stopped on request, or ``start`` exited 0) or
  ``failed`` (``start`` exited non-zero, or ``stop`` failed);
* a **task** is ``pending``, ``running``, ``succeeded`` or ``failed`` (its command failed, or a
  task it depends on did, in which case it did not run).

A task runs after the tasks it depends on (``dependsOn``); tasks run together in one request
(a trigger, or ``roost env task run``) share their dependencies' runs, and independent ones run
in parallel. Each run appends to the item's log (``task-<id>`` / ``service-<id>`` in the
environment's logs, ``roost env logs ID --step <id>``).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.core.errors import Conflict, NotFound
from roost.runner.automations import process
from roost.runner.automations.config import Automations, Service, Task
from roost.runner.automations.process import Target
from roost.runner.devcontainer.logs import LogStore

log = logging.getLogger(__name__)
READY_EVERY = 1.0
STOP_GRACE = 10.0
STOP_COMMAND_TIMEOUT = 120.0
ACTIVE = ("starting", "running", "ready", "stopping")


@dataclass
class ItemState:
    kind: str
    id: str
    name: str
    triggered_by: tuple[str, ...]
    phase: str = "pending"
    message: str = ""
    exit_code: int | None = None
    runs: int = 0

    def view(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "phase": self.phase,
                "message": self.message, "exit_code": self.exit_code, "runs": self.runs,
                "triggered_by": list(self.triggered_by)}  # fmt: skip


@dataclass
class _Running:
    task: "asyncio.Task[None]"
    group: str = ""
    stopping: bool = False
    ready: "asyncio.Task[None] | None" = None


@dataclass
class EnvironmentAutomations:
    definitions: Automations
    target: Target
    logs: LogStore
    changed: Callable[[], Awaitable[None]]
    services: dict[str, ItemState] = field(default_factory=dict)
    tasks: dict[str, ItemState] = field(default_factory=dict)
    _running: dict[str, _Running] = field(default_factory=dict)
    _task_runs: dict[str, "asyncio.Task[bool]"] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s in self.definitions.services.values():
            self.services[s.id] = ItemState("service", s.id, s.name, s.triggered_by)
        for t in self.definitions.tasks.values():
            self.tasks[t.id] = ItemState("task", t.id, t.name, t.triggered_by)

    @property
    def env_id(self) -> str:
        return self.target.env_id

    def view(self) -> dict[str, Any]:
        return {"file": self.definitions.path,
                "services": [s.view() for s in self.services.values()],
                "tasks": [t.view() for t in self.tasks.values()]}  # fmt: skip

    def active(self, log_name: str) -> bool:
        kind, _, item = log_name.partition("-")
        if kind == "service":
            return item in self.services and self.services[item].phase in ACTIVE
        run = self._task_runs.get(item)
        return kind == "task" and run is not None and not run.done()

    async def trigger(self, *triggers: str, tasks: bool = True) -> None:
        """Start the services and run the tasks that any of ``triggers`` names."""
        for s in self.definitions.services.values():
            if set(s.triggered_by) & set(triggers) and s.id not in self._running:
                await self.start_service(s.id)
        wanted = set(triggers)
        chosen = [t.id for t in self.definitions.tasks.values() if set(t.triggered_by) & wanted]
        if chosen and tasks:
            await self.run_tasks(chosen)

    def groups(self) -> dict[str, str]:
        """Process groups of the running services (kept on disk for a runner restart)."""
        return {sid: r.group for sid, r in self._running.items() if r.group}

    # Services

    async def start_service(self, sid: str) -> ItemState:
        service = self._service(sid)
        if sid in self._running:
            return self.services[sid]
        state = self.services[sid]
        state.phase, state.message, state.exit_code = "starting", "starting", None
        state.runs += 1
        self._running[sid] = _Running(asyncio.create_task(self._serve(service)))
        await self.changed()
        return state

    async def _serve(self, service: Service) -> None:
        state, running = self.services[service.id], self._running[service.id]
        path = self.logs.open_run(self.env_id, f"service-{service.id}", f"start: {service.start}")
        code = -1
        try:
            proc = await self.target.driver.exec(
                self.env_id, self.target.request(service.start, wrapper=process.SERVICE)
            )
            await proc.close_stdin()
            first: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            output = asyncio.create_task(process.pump(proc, path, first))
            running.group = process.group_of(await first)
            if service.ready:
                running.ready = asyncio.create_task(self._readiness(service))
            else:
                await self._set(state, "running", "running (no ready command)")
            await output
            code = await proc.wait()
        except Exception as exc:  # the driver failed: the service did not run
            log.warning("service %s in %s: %r", service.id, self.env_id, exc)
            state.message = f"could not start: {exc}"
        finally:
            if running.ready is not None:
                running.ready.cancel()
            self._running.pop(service.id, None)
        await self._ended(state, running, code)

    async def _ended(self, state: ItemState, running: _Running, code: int) -> None:
        state.exit_code = code if code >= 0 else None
        if running.stopping and state.phase != "failed":
            await self._set(state, "stopped", "stopped")
        elif code == 0:
            await self._set(state, "stopped", "start exited with 0")
        else:
            detail = f"exit code {code}" if code >= 0 else state.message
            await self._set(state, "failed", f"start failed ({detail}); see `roost env logs "
                            f"{self.env_id} --step {state.id}`")  # fmt: skip

    async def _readiness(self, service: Service) -> None:
        state = self.services[service.id]
        while True:
            if await process.run(self.target, service.ready, None, timeout=30) == 0:
                await self._set(state, "ready", "ready")
                return
            await asyncio.sleep(READY_EVERY)

    async def stop_service(self, sid: str) -> ItemState:
        service = self._service(sid)
        state, running = self.services[sid], self._running.get(sid)
        if running is None:
            if state.phase in ("pending", "failed"):
                await self._set(state, "stopped", "not running")
            return state
        running.stopping = True
        if running.ready is not None:
            running.ready.cancel()
        await self._set(state, "stopping", "stopping")
        if service.stop:
            path = self.logs.open_run(self.env_id, f"service-{sid}", f"stop: {service.stop}")
            code = await process.run(self.target, service.stop, path, STOP_COMMAND_TIMEOUT)
            if code != 0:
                state.phase, state.message = "failed", f"stop failed (exit code {code})"
            await process.signal_group(self.target, running.group, "KILL")
        else:
            await process.signal_group(self.target, running.group, "TERM")
        await self._finish(running)
        return state

    async def _finish(self, running: _Running) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(running.task), STOP_GRACE)
        except TimeoutError:
            await process.signal_group(self.target, running.group, "KILL")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(running.task), STOP_GRACE)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop_service(sid) for sid in list(self._running)))

    def forget(self) -> None:
        """The environment stopped (its processes are gone): drop what is still tracked."""
        for running in self._running.values():
            running.task.cancel()
        for run in self._task_runs.values():
            run.cancel()

    # Tasks

    async def run_tasks(self, task_ids: list[str]) -> None:
        """Start these tasks (and what they depend on) in the background; each dependency runs
        once for the batch."""
        for tid in task_ids:
            self._task(tid)
            if tid in self._task_runs and not self._task_runs[tid].done():
                raise Conflict(f"task {tid} is already running")
        batch: dict[str, asyncio.Task[bool]] = {}
        for tid in task_ids:
            self._schedule(tid, batch)
        for tid in batch:
            self.tasks[tid].phase, self.tasks[tid].message = "pending", "waiting to run"
        await self.changed()

    def _schedule(self, tid: str, batch: dict[str, "asyncio.Task[bool]"]) -> "asyncio.Task[bool]":
        if tid not in batch:
            task = self._task(tid)
            deps = [self._schedule(d, batch) for d in task.depends_on]
            # the log exists from now on, so `roost env task run` can follow it at once
            path = self.logs.open_run(self.env_id, f"task-{tid}", f"task: {task.command}")
            run = asyncio.create_task(self._run_task(tid, deps, path))
            batch[tid] = self._task_runs[tid] = run
        return batch[tid]

    async def _run_task(self, tid: str, deps: list["asyncio.Task[bool]"], path: Path) -> bool:
        task, state = self._task(tid), self.tasks[tid]
        results = await asyncio.gather(*deps)
        failed = [d for d, ok in zip(task.depends_on, results, strict=True) if not ok]
        if failed:
            with path.open("a") as f:
                f.write(f"not run: {', '.join(failed)} failed\n")
            await self._set(state, "failed", f"not run: {', '.join(failed)} failed")
            return False
        state.runs += 1
        await self._set(state, "running", "running")
        try:
            code = await process.run(self.target, task.command, path)
        except Exception as exc:  # the driver failed: the task did not run
            await self._set(state, "failed", f"could not run: {exc}")
            return False
        state.exit_code = code
        if code != 0:
            await self._set(state, "failed", f"exit code {code}; see `roost env logs "
                            f"{self.env_id} --step {tid}`")  # fmt: skip
            return False
        await self._set(state, "succeeded", "succeeded")
        return True

    async def wait_task(self, tid: str) -> None:
        run = self._task_runs.get(tid)
        if run is not None:
            await asyncio.wait([run])

    # Helpers

    async def _set(self, state: ItemState, phase: str, message: str) -> None:
        state.phase, state.message = phase, message
        try:
            await self.changed()
        except Exception as exc:  # reporting is best effort; the next change reports again
            log.warning("automations of %s: report failed: %r", self.env_id, exc)

    def _service(self, sid: str) -> Service:
        found = self.definitions.services.get(sid)
        if found is None:
            raise NotFound(f"no service {sid!r} in {self.definitions.path}")
        return found

    def _task(self, tid: str) -> Task:
        found = self.definitions.tasks.get(tid)
        if found is None:
            raise NotFound(f"no task {tid!r} in {self.definitions.path}")
        return found
