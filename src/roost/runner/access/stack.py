"""Everything users connect to on a runner, wired together: built once by ``Assembly.build``.

* the access server (aiohttp, ``--access-listen``): exec streams and the port proxy;
* the SSH gateway (asyncssh, ``--ssh-listen``), when configured;
* the activity tracker and its reporting loop (one batch to the plane every 30 s);
* the ``ports`` step, which publishes endpoints and keeps the proxy current.

Each part asks the plane through the runner's own credential (``PlaneClient``) and keeps no
access rule of its own: the plane decides and audits.
"""

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from roost.core.schemas.access import TicketGrant
from roost.core.schemas.activity import ActivityReport
from roost.core.schemas.proxy import ProxyAuthorize, ProxyDecision, ProxySession, ProxySessionCreate
from roost.core.schemas.ssh import SshAuthorize, SshGrant
from roost.runner.access import hostkey
from roost.runner.access.activity import ActivityTracker
from roost.runner.access.dialer import NetnsDialer
from roost.runner.access.gateway import Gateway, GatewayParts
from roost.runner.access.proxy import PortProxy
from roost.runner.access.proxyauth import ProxyAuthorizer
from roost.runner.access.server import AccessServer
from roost.runner.client import PlaneClient
from roost.runner.config import RunnerConfig
from roost.runner.ports import AccessAddresses, PortsStep
from roost.runner.runtime.base import RuntimeDriver


def split_hostport(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass
class AccessStack:
    server: AccessServer
    gateway: Gateway | None
    proxy: PortProxy
    activity: ActivityTracker
    dialer: NetnsDialer
    step: PortsStep
    reporting: "asyncio.Task[None]"

    @classmethod
    async def start(
        cls,
        config: RunnerConfig,
        client: PlaneClient,
        runner_id: str,
        driver: RuntimeDriver,
        netns_path: Callable[[str], Path],
        routes: Sequence[web.RouteDef] = (),
        session_user: Callable[[str], tuple[int, int]] = lambda env_id: (0, 0),
    ) -> "AccessStack":
        plane = _Plane(client, runner_id)
        activity = ActivityTracker()
        dialer = NetnsDialer(netns_path)
        proxy = PortProxy(
            ProxyAuthorizer(plane.proxy_authorize, plane.proxy_session), dialer, activity,
            config.public_proxy_domain,
            secure_cookies=config.public_access_url.startswith("https://"),
        )  # fmt: skip
        server = AccessServer(driver, plane.verify_ticket, proxy, routes)
        await server.start(*split_hostport(config.access_listen))
        gateway = None
        if config.ssh_listen:
            key = await asyncio.to_thread(hostkey.load_or_create, config.data_dir)
            parts = GatewayParts(driver, plane.ssh_authorize, dialer, activity, session_user)
            gateway = Gateway(parts, key)
            await gateway.start(*split_hostport(config.ssh_listen))
        addresses = AccessAddresses(
            config.public_access_url, config.public_proxy_domain, config.public_ssh_address
        )
        reporting = asyncio.create_task(
            activity.report_forever(plane.report_activity, config.activity_report_seconds),
            name="activity",
        )
        return cls(server, gateway, proxy, activity, dialer, PortsStep(addresses, proxy), reporting)

    async def stop(self) -> None:
        self.reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reporting
        if self.gateway is not None:
            await self.gateway.stop()
        await self.server.stop()
        self.dialer.close()


@dataclass
class _Plane:
    """The plane calls the access parts make, bound to this runner."""

    client: PlaneClient
    runner_id: str

    async def verify_ticket(self, ticket: str, env_id: str) -> TicketGrant:
        grant = await self.client.verify_ticket(self.runner_id, ticket, env_id)
        return TicketGrant.model_validate(grant)

    async def ssh_authorize(self, body: SshAuthorize) -> SshGrant:
        return await self.client.ssh_authorize(self.runner_id, body)

    async def proxy_authorize(self, body: ProxyAuthorize) -> ProxyDecision:
        return await self.client.proxy_authorize(self.runner_id, body)

    async def proxy_session(self, body: ProxySessionCreate) -> ProxySession:
        return await self.client.proxy_session(self.runner_id, body)

    async def report_activity(self, body: ActivityReport) -> None:
        await self.client.report_activity(self.runner_id, body)
