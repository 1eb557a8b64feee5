"""Turns one environment's spec into reality on this host; level-triggered and idempotent.

Each pass reads the desired state (the plane's latest ``Environment``) and the observed state
(the driver's inspection, the local state file) and takes the steps still missing, one handler
per desired phase. Every step is idempotent, so a pass cut short by a crash -- ``kill -9``
included -- is completed by the next one: mounts that exist are kept, a container that runs is
left running, a half-deleted directory is deleted again.

Errors decide what happens next (:mod:`roost.core.errors`): a ``TemporaryError`` (a registry that
is down) is retried with backoff; anything else marks the machine condition failed with a message
the user can act on and is retried at the next resync, so fixing the cause (importing the image)
heals the environment without anyone touching it. An error of no known kind (a bug) does the
same with "internal error; see the runner's log": whatever fails, the status says so.
"""

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from roost.core.errors import PermanentError, RoostError, TemporaryError, Unavailable
from roost.core.schemas.environments import Environment
from roost.runner import metrics
from roost.runner.idalloc import IdAllocator
from roost.runner.images import DEFAULT_IMAGE, Image
from roost.runner.nested import mode as nested
from roost.runner.network import NetworkDriver
from roost.runner.reporter import Reporter
from roost.runner.resources import apply as limits
from roost.runner.runtime.base import RuntimeDriver, RuntimeFailure, RuntimeSpec
from roost.runner.state import LocalEnv, StateStore
from roost.runner.steps import Step, StepContext

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal error on the runner; see the runner's log for this environment"


PROGRESS_AFTER = 0.3
"""Seconds before a start that is still going says "creating"/"starting". A start from a cached
image takes about 0.1 s: reporting the transitional phase first would only add a status write
(and a wake-up of every watcher) to it."""


def repository_relative(message: str, workspace: Path) -> str:
    """``message`` with the workspace's path on this runner cut off: users know their files by
    their place in the repository (``.devcontainer/Dockerfile``), not by the runner's layout."""
    return message.replace(f"{workspace}/", "").replace(str(workspace), "the repository")


class Deferred:
    """Runs ``action`` after ``delay`` unless settled first; settling waits for it once begun."""

    def __init__(self, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        self._started = False

        async def later() -> None:
            await asyncio.sleep(delay)
            self._started = True
            await action()

        self._task = asyncio.create_task(later())

    async def settle(self) -> None:
        if not self._started:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class ImageSource(Protocol):
    """The part of the image store the reconciler uses."""

    async def get(self, ref: str) -> Image | None: ...
    async def pull(self, ref: str) -> Image: ...


@dataclass
class Parts:
    """What a reconciler works with; each part is an interface with a fake for tests."""

    driver: RuntimeDriver
    """The ``container`` runtime; ``drivers`` adds others (``sandbox``)."""
    network: NetworkDriver
    images: ImageSource
    ids: IdAllocator
    state: StateStore
    reporter: Reporter
    workspaces: Path
    default_image: str = DEFAULT_IMAGE
    drivers: dict[str, RuntimeDriver] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    def driver_for(self, runtime: str) -> RuntimeDriver:
        if runtime == "container":
            return self.drivers.get("container", self.driver)
        found = self.drivers.get(runtime)
        if found is None:
            raise PermanentError(f"this runner has no {runtime} runtime; pick another class")
        return found

    def all_drivers(self) -> list[RuntimeDriver]:
        return [self.driver, *(d for k, d in self.drivers.items() if d is not self.driver)]


class Reconciler:
    def __init__(self, parts: Parts) -> None:
        self.p = parts

    async def reconcile(self, env_id: str, env: Environment | None) -> float | None:
        """One pass; returns seconds until the next try, or None if nothing is pending."""
        started = time.perf_counter()
        try:
            return await self._reconcile(env_id, env)
        finally:
            log.debug("reconciled %s in %.1f ms", env_id, (time.perf_counter() - started) * 1000)

    def _driver(self, env: Environment) -> RuntimeDriver:
        return self.p.driver_for(env.spec.resources.runtime)

    async def settled(self, env: Environment) -> bool:
        """Cheap check (no process, no network call): do the plane's status and what runs here
        already match the spec? Used by periodic resyncs to skip settled environments."""
        desired = env.spec.desired_phase
        status = env.status
        if status.observed_spec_version != env.spec.spec_version or status.phase != desired:
            return False
        state = (await self._driver(env).inspect(env.id)).state
        if desired == "running":
            local = self.p.state.load(env.id)
            wanted = limits.wanted(env)
            return state == "running" and local is not None and local.applied_resources == wanted
        return desired == "stopped" and state != "running"

    async def _reconcile(self, env_id: str, env: Environment | None) -> float | None:
        if env is None:
            await self._remove(env_id)
            return None
        handlers: dict[str, Callable[[Environment], Awaitable[None]]] = {
            "running": self._run, "stopped": self._stop, "deleted": self._delete,
        }  # fmt: skip
        try:
            await handlers[env.spec.desired_phase](env)
        except TemporaryError as exc:
            message = repository_relative(exc.message, self.p.workspaces / env_id)
            await self.p.reporter.failed(env, message, temporary=True)
            return exc.delay
        except Unavailable as exc:  # the plane, not the environment: nothing to report to
            log.warning("environment %s: %s; trying again", env_id, exc.message)
            return 5.0
        except (RoostError, RuntimeFailure, OSError) as exc:
            message = exc.message if isinstance(exc, RoostError) else str(exc)
            message = repository_relative(message, self.p.workspaces / env_id)
            log.warning("environment %s: %s", env_id, message)
            await self._report_failure(env, message)
            return 60.0
        except Exception:
            # A bug or an error nobody named: the log has the traceback, the status says where
            # to look -- never a pass that fails again every few seconds in silence.
            log.exception("environment %s: unexpected error", env_id)
            await self._report_failure(env, INTERNAL_ERROR)
            return 60.0
        return None

    async def _report_failure(self, env: Environment, message: str) -> None:
        """The failure in the status; a plane that cannot take it is only logged (the retry
        reports it again), so reporting never hides the failure it reports."""
        try:
            await self.p.reporter.failed(env, message)
        except Exception as exc:  # best effort: the retry reports it again
            log.warning("environment %s: could not report the failure: %s", env.id, exc)

    def _context(
        self, env: Environment, local: LocalEnv | None, phase: str, pid: int | None = None
    ) -> StepContext:
        async def report(part: str, cond_phase: str, message: str, **details: Any) -> None:
            await self.p.reporter.part(env, phase, part, cond_phase, message, **details)

        return StepContext(
            env=env, driver=self._driver(env), local=local,
            workspace=self.p.workspaces / env.id, report=report, pid=pid,
        )  # fmt: skip

    async def _run(self, env: Environment) -> None:
        if any(step.leaving(env) for step in self.p.steps):
            await self._leave(env)
            return
        async with self.p.reporter.holding(env):  # one report for the steps' conditions
            await self._run_pass(env)

    async def _run_pass(self, env: Environment) -> None:
        env_id = env.id
        driver = self._driver(env)
        inspection = await driver.inspect(env_id)
        local = self.p.state.load(env_id)
        if inspection.state == "running" and local is not None:
            await self._apply_resources(env, local)
            await self.p.network.create(env_id, env.metadata.name)  # re-adopt: same address
            for step in self.p.steps:
                await step.after_start(self._context(env, local, "running", inspection.pid))
            await self.p.reporter.running(env, local)
            return

        async def say_starting() -> None:
            st = env.status
            if st.phase == "failed" and st.observed_spec_version == env.spec.spec_version:
                return  # a retry of a failed start: "failed" stands until it gets further
            await self.p.reporter.progress(env, "starting" if local else "creating", "starting")

        progress = Deferred(PROGRESS_AFTER, say_starting)
        try:
            local = local or LocalEnv(env_id=env.id, runtime=env.spec.resources.runtime)
            for step in self.p.steps:  # content, devcontainer: may choose the image
                await step.before_start(self._context(env, local, "starting"))
            if not local.layers:
                await self._pin_image(env, local)
            self.p.state.save(local)
            await self._start(env, local)
        finally:
            await progress.settle()
        local.applied_resources = limits.wanted(env)
        local.resource_notes = []  # a start applies every limit
        self.p.state.save(local)
        # The container runs: what the steps report now (hooks, some in the background after
        # this pass) must not take the environment's phase back to "starting".
        pid = (await driver.inspect(env_id)).pid  # once, for every step
        for step in self.p.steps:
            await step.after_start(self._context(env, local, "running", pid))
        await self.p.reporter.running(env, local)

    async def _start(self, env: Environment, local: LocalEnv) -> RuntimeSpec:
        """Root filesystem and network are made at the same time, then the container starts."""
        driver = self._driver(env)
        t0 = time.perf_counter()
        spec = await self._runtime_spec(env, local)
        rootfs = asyncio.create_task(driver.prepare(spec))
        try:
            net = await self.p.network.create(env.id, env.metadata.name)
            t1 = time.perf_counter()
        finally:
            await rootfs
        await limits.at_start(self.p.network, env)  # egress and bandwidth, before it runs
        t2 = time.perf_counter()
        spec = replace(spec, netns=net.netns_path, resolv_conf=net.resolv_conf, hosts=net.hosts)
        await driver.start(spec)
        t3 = time.perf_counter()
        for stage, at in (("network", t1), ("rootfs", t2), ("container", t3)):
            metrics.start_stage.labels(stage).observe(at - t0)
        log.debug(
            "%s: network %.1f ms, root filesystem by %.1f ms, container started by %.1f ms",
            env.id, (t1 - t0) * 1000, (t2 - t0) * 1000, (t3 - t0) * 1000,
        )  # fmt: skip
        return spec

    async def _pin_image(self, env: Environment, local: LocalEnv) -> None:
        """Choose the image once for the environment's life (its writable layer sits on it)."""
        ref = local.wanted_image or env.spec.image or self.p.default_image
        image = await self.p.images.get(ref)
        if image is None:
            if not env.spec.image and not local.wanted_image and ref == DEFAULT_IMAGE:
                raise PermanentError(
                    "no image was named and the default image is not built yet: run "
                    "`roost image build-base` on the runner, or create with --image REF"
                )
            await self.p.reporter.progress(env, "creating", f"pulling image {ref}")
            image = await self.p.images.pull(ref)
        local.image_ref = image.ref
        local.image_digest = image.digest
        local.layers = [str(p) for p in image.layers]
        local.image_env = list(image.config.env)
        local.working_dir = image.config.working_dir or "/"

    async def _runtime_spec(self, env: Environment, local: LocalEnv) -> RuntimeSpec:
        """Everything but the network (see :meth:`_start`)."""
        id_base = await asyncio.to_thread(self.p.ids.allocate, env.id)
        return RuntimeSpec(
            env_id=env.id,
            layers=tuple(Path(p) for p in local.layers),
            resources=env.spec.resources,
            id_base=id_base,
            hostname=env.metadata.name,
            workspace=self.p.workspaces / env.id,
            workspace_target=local.workspace_target,
            env={**local.container_env, **env.spec.env},
            image_env=local.image_env,
            working_dir=local.working_dir,
            cap_add=tuple(local.cap_add),
            tmpfs=tuple(local.tmpfs),
            nested_containers=nested.wanted(env, local),
        )

    async def _apply_resources(self, env: Environment, local: LocalEnv) -> None:
        """A new class or policy, live (``runner/resources/apply.py``); what cannot change
        without a restart is kept as notes for the ``resources`` condition."""
        wanted = limits.wanted(env)
        if local.applied_resources == wanted:
            return
        await self.p.reporter.progress(env, "updating", "applying new resource limits")
        local.resource_notes = await limits.live(
            self._driver(env), self.p.network, env, local.applied_resources
        )
        local.applied_resources = wanted
        self.p.state.save(local)

    async def _stop(self, env: Environment) -> None:
        driver = self._driver(env)
        local = self.p.state.load(env.id)
        inspection = await driver.inspect(env.id)
        if inspection.state == "running":
            await self.p.reporter.progress(env, "stopping", "stopping")
            for step in self.p.steps:
                await step.before_stop(self._context(env, local, "stopping"))
        await driver.stop(env.id, grace=10.0)
        await self.p.network.delete(env.id)
        for step in self.p.steps:
            await step.after_stop(self._context(env, local, "stopping"))
        await self.p.reporter.stopped(env)

    async def _leave(self, env: Environment) -> None:
        """Moving to another runner (``roost env move``): stop here, and let the steps' stop
        hooks back it up and hand it over -- running, stopped or failed alike. No final report:
        once handed over the environment is no longer this runner's to report on."""
        driver = self._driver(env)
        local = self.p.state.load(env.id)
        await self.p.reporter.progress(env, "stopping", f"moving to runner {env.spec.runner}")
        if (await driver.inspect(env.id)).state == "running":
            for step in self.p.steps:
                await step.before_stop(self._context(env, local, "stopping"))
        await driver.stop(env.id, grace=10.0)
        await self.p.network.delete(env.id)
        for step in self.p.steps:
            await step.after_stop(self._context(env, local, "stopping"))

    async def _delete(self, env: Environment) -> None:
        await self.p.reporter.progress(env, "deleting", "deleting")
        await self._remove(env.id)
        await self.p.reporter.deleted(env)

    async def _remove(self, env_id: str) -> None:
        """Everything this runner holds for the environment, gone (idempotent)."""
        for driver in self.p.all_drivers():
            await driver.delete(env_id)
        await self.p.network.delete(env_id)
        workspace = self.p.workspaces / env_id
        for step in self.p.steps:
            await step.on_remove(env_id, workspace)
        if workspace.exists():
            await asyncio.to_thread(shutil.rmtree, workspace)
        await asyncio.to_thread(self.p.ids.release, env_id)
        self.p.state.remove(env_id)
