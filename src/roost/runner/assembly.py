"""Wiring: builds a runner's parts from its config. The one place that knows every concrete type.

Data directory layout::

    runner.json        the plane credential (0600)
    bin/               the environment init, built for this host
    images/            the image store (blobs, unpacked layers, records)
    envs/              the container driver's per-environment bundles (and crun's state)
    disks/<id>.img     each environment's disk, mounted at envs/<id> (runner/disks)
    sandboxes/         the sandbox driver's bundles (and runsc's state), when runsc works
    workspaces/<id>/   each environment's workspace
    state/<id>.json    each environment's local state (pinned image layers, applied limits)
    network/           IP allocations
    backup/            backup journal, views, staging and restic's cache (runner/backup)
    buildah/           image builds: buildah's storage, the exchange layout (devcontainer/buildah)
"""

import asyncio
import logging
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roost.runner.access.stack import AccessStack
from roost.runner.agent import Agent
from roost.runner.backup.service import Backups
from roost.runner.client import PlaneClient
from roost.runner.config import RunnerConfig
from roost.runner.content import ContentStep
from roost.runner.cpu import CpuController
from roost.runner.devcontainer import buildah
from roost.runner.devcontainer.logs import LogStore
from roost.runner.devcontainer.step import DevcontainerStep
from roost.runner.disks import Disks, space
from roost.runner.disks.health import DiskWatch
from roost.runner.disks.step import DiskStep
from roost.runner.hostcheck import HostCheckFailed, HostReport, check
from roost.runner.idalloc import IdAllocator
from roost.runner.images import DEFAULT_IMAGE, ImageStore
from roost.runner.nested.step import NestedStep
from roost.runner.network import Network, NetworkConfig
from roost.runner.reconciler import Parts, Reconciler
from roost.runner.reporter import Reporter
from roost.runner.resources.oom import OomWatcher
from roost.runner.resources.readings import ReadingsBuffer
from roost.runner.resources.report import ResourcesStep
from roost.runner.runtime.container import initbin
from roost.runner.runtime.container.driver import ContainerDriver
from roost.runner.runtime.routing import RoutedDriver
from roost.runner.runtime.sandbox import launcher
from roost.runner.runtime.sandbox.driver import SandboxDriver
from roost.runner.sessions import SessionDriver
from roost.runner.state import StateStore
from roost.runner.steps import Step
from roost.runner.userparts import UserParts

log = logging.getLogger(__name__)


@dataclass
class Assembly:
    """Implements the agent's ``ReconcilerFactory`` and owns the access server."""

    config: RunnerConfig
    driver: ContainerDriver
    network: Network
    images: ImageStore
    state: StateStore
    ids: IdAllocator
    runner_id: str = ""
    access: AccessStack | None = None
    logs: LogStore | None = None
    backups: Backups | None = None
    user_parts: UserParts | None = None
    """Secrets, dotfiles and automations (``runner/userparts.py``)."""
    sandbox: SandboxDriver | None = None
    """The ``sandbox`` runtime (gVisor), when this host has a working ``runsc``."""
    cpu: CpuController | None = None
    """The CPU control loop (``runner/cpu``), unless ``cpu_control`` is off."""
    oom: OomWatcher | None = None
    wake: Callable[[str], None] = lambda env_id: None
    """Queues an environment for a pass (set by the agent: ``attach_wake``)."""
    _tasks: list["asyncio.Task[None]"] = field(default_factory=list)
    _disk_capacity: int | None = None

    @classmethod
    def create(cls, config: RunnerConfig, images: ImageStore | None = None) -> "Assembly":
        report = check()
        for fix in report.fixed:
            log.info("host fix: %s", fix)
        if not report.ok:
            raise HostCheckFailed(report)
        data = config.data_dir
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        data.chmod(0o711)  # traversable, not listable: sandboxed clones reach workspaces/<id>
        init = initbin.ensure(data / "bin")
        net = NetworkConfig(
            bridge=config.bridge, subnet=config.subnet, nft_table=config.nft_table,
            netns_prefix=f"{config.nft_table}-", state_dir=data / "network",
        )  # fmt: skip
        cpu = CpuController(config.cgroup_parent) if config.cpu_control else None
        return cls(
            config=config,
            driver=ContainerDriver(
                data / "envs",
                init_binary=init,
                cgroup_parent=config.cgroup_parent,
                cpu=cpu,
                disks=_disks(config, data / "envs"),
            ),
            cpu=cpu,
            network=Network(net),
            images=images
            or ImageStore(
                config.images_dir or data / "images",
                insecure_registries=config.insecure_registries,
            ),
            state=StateStore(data / "state"),
            ids=IdAllocator(config.ids_dir, runner=config.name),
            sandbox=_sandbox_driver(config, init),
        )

    async def build(self, client: PlaneClient, runner_id: str) -> Reconciler:
        self.runner_id = runner_id
        await self.network.setup_host()
        parts = Parts(
            driver=self.driver, network=self.network, images=self.images, ids=self.ids,
            state=self.state, reporter=Reporter(client),
            workspaces=self.config.data_dir / "workspaces",
            default_image=self.config.default_image or DEFAULT_IMAGE,
        )  # fmt: skip
        if self.sandbox is not None:
            parts.drivers["sandbox"] = self.sandbox
        parts.workspaces.mkdir(exist_ok=True, mode=0o700)
        parts.workspaces.chmod(0o711)  # the sandboxed git clones into workspaces/<id>
        self.backups = Backups.start(
            self.config, client, runner_id, self.driver, self.driver.root, self.ids,
            self.state, self.images, parts.reporter, parts.workspaces,
        )  # fmt: skip
        self.backups.step.disk_problem = self._disk_problem
        # First: a restore comes before any content (a restored workspace is not cloned again).
        parts.steps.insert(0, self.backups.step)
        disks = DiskStep(self._disks_for)  # after a restore, before content: files on the disk
        parts.steps.insert(parts.steps.index(self.backups.step) + 1, disks)
        # Nested mode's network and engine, before any hook runs inside (runner/nested/)
        parts.steps.insert(parts.steps.index(disks) + 1, NestedStep(self.network.config.netns_path))
        self.logs = LogStore(self.config.data_dir / "logs")
        user = UserParts.create(client, runner_id, self.state, parts.reporter, self.logs)
        self.user_parts = user
        parts.driver = user.wrap(parts.driver)  # secret variables in every process
        parts.drivers = {k: user.wrap(d) for k, d in parts.drivers.items()}
        parts.steps += self._content_steps(parts.default_image, self.logs, user)

        routed = user.wrap(self._routed())
        sessions = SessionDriver(routed, self.state)  # users work as the remote user
        self.access = await AccessStack.start(
            self.config, client, runner_id, sessions, self.network.config.netns_path,
            routes=user.routes(), session_user=sessions.session_user,
        )  # fmt: skip
        parts.steps.append(self.access.step)  # exec, SSH, ports: runner/access/stack.py
        self._start_resources(parts, client, runner_id)
        return Reconciler(parts)

    def _start_resources(self, parts: Parts, client: PlaneClient, runner_id: str) -> None:
        """The CPU loop, the OOM watcher and the ``resources`` condition."""
        if self.sandbox is not None and self.config.disk_quotas:
            self.sandbox.disks = _disks(self.config, self.sandbox.root)
        self.oom = OomWatcher(self.config.cgroup_parent, self._wake)
        self.oom.start()
        if self.cpu is not None:
            self._tasks.append(asyncio.create_task(self.cpu.run(), name="cpu-control"))
        readings = ReadingsBuffer(lambda batch: client.report_readings(runner_id, batch))
        parts.steps.append(ResourcesStep(self.oom, self.cpu, readings))
        watch = DiskWatch(self._disk_healths, self._wake)  # a failed disk, in its status at once
        self._tasks.append(asyncio.create_task(watch.run(), name="disk-watch"))

    def _all_disks(self) -> list[Disks]:
        drivers = (self.driver, self.sandbox)
        return [d.disks for d in drivers if d is not None and d.disks is not None]

    def _disk_healths(self) -> dict[str, str | None]:
        """Every disk's health, and the room left (in the watch's thread: a stat or two per
        disk, about 0.1 ms each -- too slow for every heartbeat on the event loop)."""
        self._disk_capacity = self._count_disk_capacity()
        found: dict[str, str | None] = {}
        for disks in self._all_disks():  # one image directory: each runtime mounts its own
            for env_id, why in disks.healths().items():
                found[env_id] = found.get(env_id) or why
        return found

    def _disk_problem(self, env_id: str) -> str | None:
        for disks in self._all_disks():
            if (why := disks.health(env_id)) is not None:
                return why
        return None

    def disk_capacity_gib(self) -> int | None:
        """The quotas this runner can back (``runner/disks/space.py``); None without disks.
        Counted by the disk watch every few seconds."""
        if self._disk_capacity is None:
            self._disk_capacity = self._count_disk_capacity()
        return self._disk_capacity

    def _count_disk_capacity(self) -> int | None:
        every = self._all_disks()
        return space.capacity_gib(every[0].images, every[0].host) if every else None

    def attach_wake(self, wake: Callable[[str], None]) -> None:
        self.wake = wake

    def _wake(self, env_id: str) -> None:
        self.wake(env_id)  # late-bound: the agent attaches after build

    def _disks_for(self, runtime: str) -> Disks | None:
        driver = self.sandbox if runtime == "sandbox" else self.driver
        return driver.disks if driver is not None else None

    def _content_steps(self, default_image: str, logs: LogStore, user: UserParts) -> list[Step]:
        """Workspace content, then the devcontainer (which reads the cloned repository)."""

        async def label(ref: str) -> str | None:
            image = await self.images.get(ref)
            return image.config.labels.get("devcontainer.metadata") if image else None

        # Dockerfiles and features (runner/devcontainer/buildah.py), when buildah is installed
        builder = buildah.for_runner(
            self.config.data_dir / "buildah", self.images, self.ids, self.network,
            self.config.insecure_registries,
        )  # fmt: skip
        dev = DevcontainerStep(
            logs, self.state, label, builder=builder, default_image=default_image
        )
        before, after = user.around(dev)  # secrets; dotfiles, automations
        content = ContentStep(
            allow_local_repos=self.config.allow_local_repos, credential=user.secrets.value
        )
        user.dotfiles.allow_local = self.config.allow_local_repos
        return [*before, content, dev, *after]

    def _routed(self) -> ContainerDriver | RoutedDriver:
        """One driver for the access paths: each environment's calls go to its runtime's."""
        if self.sandbox is None:
            return self.driver

        def runtime_of(env_id: str) -> str | None:
            local = self.state.load(env_id)
            return local.runtime if local else None

        return RoutedDriver({"container": self.driver, "sandbox": self.sandbox}, runtime_of)

    def runtimes(self) -> list[str]:
        return ["container", "sandbox"] if self.sandbox is not None else ["container"]

    def image_refs(self) -> list[str]:
        return [image.ref for image in self.images.list()]

    def local_ids(self) -> list[str]:
        return sorted(set(self.state.ids()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.oom is not None:
            self.oom.close()
        if self.cpu is not None:
            self.cpu.close()
        if self.backups is not None:
            await self.backups.close()
        if self.access is not None:
            await self.access.stop()
        await self.network.close()


def _disks(config: RunnerConfig, root: Path) -> Disks | None:
    """Disks for the driver whose environments live under ``root``."""
    if not config.disk_quotas:
        return None
    if shutil.which("mkfs.ext4") is None or not Path("/dev/loop-control").exists():
        problem = (
            "disk quotas need mkfs.ext4 (apt-get install e2fsprogs) and loop devices "
            "(/dev/loop-control, the loop module); or start the runner with --no-disk-quotas"
        )
        raise HostCheckFailed(HostReport(problems=[problem]))
    data = config.data_dir
    host = space.HostDisks(config.ids_dir / "disks", config.name)  # host-wide, like the ids
    return Disks(data / "disks", root, data / "workspaces", host)


def _sandbox_driver(config: RunnerConfig, init: Path) -> SandboxDriver | None:
    reason = SandboxDriver.unavailable()
    if reason is not None:
        log.info("no sandbox runtime on this runner: %s", reason)
        return None
    data = config.data_dir
    return SandboxDriver(
        data / "sandboxes", init_binary=init, launcher_binary=launcher.ensure(data / "bin"),
        cgroup_parent=config.cgroup_parent,
    )  # fmt: skip


async def run_runner(config: RunnerConfig, ready: asyncio.Event | None = None) -> None:
    """``roost runner``: run until cancelled. Environments keep running after it stops."""
    # The runner's threads (network, file work) mostly wait on the kernel; with the default
    # 5 ms GIL switch interval each wake-up can wait that long behind the event loop, which
    # made a 2 ms network setup take 15 ms. A shorter interval trades a little throughput for
    # latency, which is what starting environments needs.
    sys.setswitchinterval(0.0005)
    assembly = await asyncio.to_thread(Assembly.create, config)
    agent = Agent(config, assembly)

    async def mark_ready() -> None:
        await agent.ready.wait()
        if ready is not None:
            ready.set()

    waiter = asyncio.create_task(mark_ready())
    try:
        await agent.run()
    finally:
        waiter.cancel()
        await assembly.close()
