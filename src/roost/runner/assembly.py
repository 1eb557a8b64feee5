"""Wiring: builds a runner's parts from its config. The one place that knows every concrete type.

Data directory layout::

    runner.json        the plane credential (0600)
    bin/               the environment init, built for this host
    images/            the image store (blobs, unpacked layers, records)
    envs/              the container driver's per-environment bundles (and crun's state)
    workspaces/<id>/   each environment's workspace
    state/<id>.json    each environment's local state (pinned image layers, applied limits)
    network/           IP allocations
"""

import asyncio
import logging
import sys
from dataclasses import dataclass

from roost.core.schemas.access import TicketGrant
from roost.runner.access.server import AccessServer
from roost.runner.agent import Agent
from roost.runner.client import PlaneClient
from roost.runner.config import RunnerConfig
from roost.runner.hostcheck import HostCheckFailed, check
from roost.runner.idalloc import IdAllocator
from roost.runner.images import DEFAULT_IMAGE, ImageStore
from roost.runner.network import Network, NetworkConfig
from roost.runner.reconciler import Parts, Reconciler
from roost.runner.reporter import Reporter
from roost.runner.runtime.container import initbin
from roost.runner.runtime.container.driver import ContainerDriver
from roost.runner.state import StateStore

log = logging.getLogger(__name__)


def split_hostport(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


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
    access: AccessServer | None = None

    @classmethod
    def create(cls, config: RunnerConfig, images: ImageStore | None = None) -> "Assembly":
        report = check()
        for fix in report.fixed:
            log.info("host fix: %s", fix)
        if not report.ok:
            raise HostCheckFailed(report)
        data = config.data_dir
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        init = initbin.ensure(data / "bin")
        net = NetworkConfig(
            bridge=config.bridge, subnet=config.subnet, nft_table=config.nft_table,
            netns_prefix=f"{config.nft_table}-", state_dir=data / "network",
        )  # fmt: skip
        return cls(
            config=config,
            driver=ContainerDriver(
                data / "envs", init_binary=init, cgroup_parent=config.cgroup_parent
            ),
            network=Network(net),
            images=images
            or ImageStore(
                config.images_dir or data / "images",
                insecure_registries=config.insecure_registries,
            ),
            state=StateStore(data / "state"),
            ids=IdAllocator(config.ids_dir),
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
        parts.workspaces.mkdir(exist_ok=True, mode=0o700)

        async def verify(ticket: str, env_id: str) -> TicketGrant:
            grant = await client.verify_ticket(self.runner_id, ticket, env_id)
            return TicketGrant.model_validate(grant)

        self.access = AccessServer(self.driver, verify)
        await self.access.start(*split_hostport(self.config.access_listen))
        return Reconciler(parts)

    def runtimes(self) -> list[str]:
        return ["container"]

    def image_refs(self) -> list[str]:
        return [image.ref for image in self.images.list()]

    def local_ids(self) -> list[str]:
        return sorted(set(self.state.ids()))

    async def close(self) -> None:
        if self.access is not None:
            await self.access.stop()
        await self.network.close()


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
