"""The ``ports`` step: publishes how users reach an environment, and keeps the proxy current.

After every start and every spec change of a running environment it reports the ``ports``
condition ("8000 (owner), 3000 (public)") and the status's ``endpoints`` -- the SSH address
(``ssh://<env-id>@<runner>:<port>``) and one proxy URL per open port, host form -- and drops
the proxy's kept admission answers for the environment, so a port just closed stops answering
at once rather than within the answers' few seconds. The list comes from ``spec.ports`` alone:
whatever writes the spec (``roost env ports``, devcontainer ``forwardPorts``) is published the
same way. Reporting goes through the reporter, which writes only when something changed.

**devcontainer ``forwardPorts``** open at owner admission by themselves: the runner knows them
(the configuration is read here, not on the plane), so the step lists those not already in the
spec in the condition's ``forwarded`` detail and publishes their URLs; the plane treats a port
listed there as open to the owner (``services/proxy_access.py``) -- trusting the runner with
nothing the owner could not already reach over SSH. Entries naming another host
(``"db:5432"``) are not forwarded.

When the environment stops or is removed, its pooled proxy connections are closed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roost.core import access_urls
from roost.core.schemas.environments import Endpoints, Environment
from roost.runner.access.proxy import PortProxy
from roost.runner.state import LocalEnv
from roost.runner.steps import Step, StepContext


@dataclass(frozen=True)
class AccessAddresses:
    access_url: str
    proxy_domain: str
    ssh_address: str | None


class PortsStep(Step):
    name = "ports"

    def __init__(self, addresses: AccessAddresses, proxy: PortProxy | None = None) -> None:
        self.addresses = addresses
        self.proxy = proxy

    def endpoints(self, env: Environment, forwarded: Sequence[int] = ()) -> Endpoints:
        a = self.addresses
        ssh = f"ssh://{env.id}@{a.ssh_address}" if a.ssh_address else None
        numbers = [p.port for p in env.spec.ports] + list(forwarded)
        urls = {
            str(n): access_urls.host_url(a.access_url, a.proxy_domain, env.id, n) for n in numbers
        }
        return Endpoints(ssh=ssh, ports=urls)

    @staticmethod
    def summary(env: Environment, forwarded: Sequence[int] = ()) -> str:
        items = [f"{p.port} ({p.admission})" for p in env.spec.ports]
        items += [f"{n} (owner, forwardPorts)" for n in forwarded]
        return ", ".join(items) or "no ports open"

    async def after_start(self, ctx: StepContext) -> None:
        if self.proxy is not None:
            self.proxy.authorizer.forget(ctx.env.id)
        forwarded = forwarded_ports(ctx.local, ctx.env)
        await ctx.report(
            "ports", "ready", self.summary(ctx.env, forwarded),
            endpoints=self.endpoints(ctx.env, forwarded), forwarded=forwarded,
        )  # fmt: skip

    async def after_stop(self, ctx: StepContext) -> None:
        if self.proxy is not None:
            await self.proxy.forget(ctx.env.id)

    async def on_remove(self, env_id: str, workspace: Path) -> None:
        if self.proxy is not None:
            await self.proxy.forget(env_id)


def forwarded_ports(local: LocalEnv | None, env: Environment) -> list[int]:
    """The devcontainer's ``forwardPorts`` on the environment itself, not already in the spec."""
    raw = local.devcontainer.get("forwardPorts") if local is not None else None
    in_spec = {p.port for p in env.spec.ports}
    found: list[int] = []
    for entry in raw if isinstance(raw, list) else []:
        host, _, number = str(entry).rpartition(":")
        if host not in ("", "localhost", "127.0.0.1") or not number.isdigit():
            continue
        port = int(number)
        if 1 <= port <= 65535 and port not in in_spec and port not in found:
            found.append(port)
    return found
