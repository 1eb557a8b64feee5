"""`Network`: the runner's per-environment networking, as the container driver sees it.

State lives in three places, all of which survive a runner restart or ``kill -9``:

* the kernel: the bridge, the nftables table, and per environment a netns mounted at
  ``/run/netns/<prefix><env id>`` holding ``eth0``, whose peer ``rv<hash>`` sits on the bridge;
* ``state_dir/addresses``: the address allocations (``ipam.py``);
* ``state_dir/hostnames``: each environment's hostname, to rebuild its ``/etc/hosts``.

Names are derived from the environment id, so a new ``Network`` finds everything: ``inspect``
reports a complete environment network, ``create`` completes a partial one (or returns the
existing one, same address), ``delete`` removes any part, and ``list`` names every environment
with a netns or an address, for finding leftovers.

Blocking work (netlink, namespaces, sysctls, files) runs on one worker thread (``worker.py``);
the event loop only waits. ``create`` takes a few milliseconds and spawns no process. Limits
are separate calls the reconciler makes when a class or policy asks for them, so unlimited
environments pay nothing: ``set_caps`` (bandwidth, ``shaping.py``) and ``set_egress`` (an
organization's allow-list, ``egress.py``).
"""

import logging
import os

from roost.runner.network import egress, envs, host, ruleset, shaping
from roost.runner.network.dns import DNS_PORT, DnsRelay
from roost.runner.network.ipam import AddressPool
from roost.runner.network.model import (
    NETNS_DIR,
    EnvNetwork,
    NetworkConfig,
    check_env_id,
    check_hostname,
)
from roost.runner.network.resolv import (
    DnsPlan,
    plan_dns,
    read_host_resolver,
    render_hosts,
    render_resolv_conf,
)
from roost.runner.network.shaping import Caps
from roost.runner.network.worker import NetworkWorker

log = logging.getLogger(__name__)


class Network:
    """Per-environment networks on one runner; see the module docstring."""

    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self._worker = NetworkWorker()
        self._pool = AddressPool(config.network, config.state_dir)
        self._hostnames = config.state_dir / "hostnames"
        self._dns: DnsPlan | None = None
        self._relay: DnsRelay | None = None

    async def setup_host(self) -> None:
        """Once per runner start (idempotent): firewall, forwarding, bridge, DNS relay."""
        plan = self._dns_plan(refresh=True)
        await ruleset.apply(ruleset.render_ruleset(self.config, dns_relay=plan.relay))
        await self._worker.run(self._setup_host)
        upstreams = [(ip, DNS_PORT) for ip in plan.relay_upstreams]
        if self._relay is not None and list(self._relay.upstreams) != upstreams:
            await self._stop_relay()  # no relay needed any more, or other upstreams
        if upstreams and self._relay is None:
            relay = DnsRelay(upstreams, clients=self.config.network)
            await relay.start(str(self.config.gateway), DNS_PORT)
            self._relay = relay

    def _setup_host(self) -> None:
        host.setup(self._worker.host_rtnl(), self.config)

    async def teardown_host(self) -> None:
        """Remove the bridge and the table, stop the relay. A real runner leaves them."""
        await self._stop_relay()
        await ruleset.apply(ruleset.render_delete(self.config.nft_table))
        await self._worker.run(self._teardown_host)

    def _teardown_host(self) -> None:
        host.teardown(self._worker.host_rtnl(), self.config)

    async def _stop_relay(self) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            await relay.close()

    async def close(self) -> None:
        """Stop the relay and the worker thread; the kernel state stays (idempotent)."""
        await self._stop_relay()
        await self._worker.close()

    async def create(self, env_id: str, hostname: str) -> EnvNetwork:
        """The environment's network, made or completed as needed (idempotent, same address).

        ``hostname`` names the environment in its ``/etc/hosts``; empty means the env id.
        """
        check_env_id(env_id)
        hostname = check_hostname(hostname or env_id)
        self._dns_plan()
        address = await self._worker.run(self._create, env_id, hostname)
        return self._describe(env_id, str(address), hostname)

    def _create(self, env_id: str, hostname: str) -> str:
        existed = self.config.netns_path(env_id).exists()
        address = self._pool.allocate(env_id)
        try:
            self._write_hostname(env_id, hostname)
            envs.build(self._worker.host_raw(), self.config, env_id, address)
        except BaseException:
            if not existed:
                self._rollback(env_id)
            raise
        return str(address)

    def _rollback(self, env_id: str) -> None:
        """Leave nothing behind a failed first create (best effort: the caller sees its error)."""
        try:
            self._delete(env_id)
        except Exception:
            log.exception("cleaning up after the failed network create of %s", env_id)

    async def inspect(self, env_id: str) -> EnvNetwork | None:
        """The environment's network if it exists *completely*, else ``None``.

        A partial one (a crash during ``create``) is ``None`` here, but still in :meth:`list`:
        ``create`` completes it, ``delete`` removes it.
        """
        check_env_id(env_id)
        return await self._worker.run(self._inspect, env_id)

    def _inspect(self, env_id: str) -> EnvNetwork | None:
        address = self._pool.lookup(env_id)
        hostname = self._read_hostname(env_id)
        if address is None or hostname is None:
            return None
        if not envs.is_complete(self._worker.host_rtnl(), self.config, env_id, address):
            return None
        return self._describe(env_id, str(address), hostname)

    async def delete(self, env_id: str) -> None:
        """Remove the netns, the veth pair and the address (idempotent)."""
        check_env_id(env_id)
        await self._worker.run(self._delete, env_id)

    def _delete(self, env_id: str) -> None:
        envs.destroy(self._worker.host_raw(), self.config, env_id)
        self._pool.release(env_id)
        (self._hostnames / env_id).unlink(missing_ok=True)

    async def set_caps(self, env_id: str, caps: Caps) -> None:
        """Upload and download caps (``shaping.py``); ``None`` fields remove a cap."""
        check_env_id(env_id)
        await self._worker.run(self._set_caps, env_id, caps)

    def _set_caps(self, env_id: str, caps: Caps) -> None:
        shaping.apply(self._worker.host_rtnl(), self.config, env_id, caps)

    async def set_egress(self, env_id: str, allow: list[str] | None) -> None:
        """Restrict egress to ``allow`` (CIDRs; empty: nowhere), or lift it (``None``)."""
        check_env_id(env_id)
        if allow is None:
            text = egress.render_delete()
        else:
            text = egress.render(
                egress.normalize(allow), str(self.config.gateway),
                self._dns_plan().env_nameservers,
            )  # fmt: skip
        await self._worker.run(egress.apply, self.config, env_id, text)

    @property
    def dns_relay(self) -> DnsRelay | None:
        """The running DNS relay, if this host needs one."""
        return self._relay

    def _dns_plan(self, *, refresh: bool = False) -> DnsPlan:
        if self._dns is None or refresh:
            resolver = read_host_resolver(self.config.host_resolv_conf)
            self._dns = plan_dns(resolver, self.config.dns_servers, self.config.gateway)
        return self._dns

    def _describe(self, env_id: str, address: str, hostname: str) -> EnvNetwork:
        return EnvNetwork(
            env_id=env_id,
            netns_path=self.config.netns_path(env_id),
            address=address,
            prefix=self.config.network.prefixlen,
            gateway=str(self.config.gateway),
            host_veth=self.config.host_veth(env_id),
            resolv_conf=render_resolv_conf(self._dns_plan()),
            hosts=render_hosts(hostname, address),
        )

    def _write_hostname(self, env_id: str, hostname: str) -> None:
        path = self._hostnames / env_id
        if self._read_hostname(env_id) == hostname:
            return
        self._hostnames.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{env_id}.tmp")
        tmp.write_text(hostname)
        tmp.replace(path)

    def _read_hostname(self, env_id: str) -> str | None:
        try:
            return (self._hostnames / env_id).read_text()
        except FileNotFoundError:
            return None

    def list(self) -> list[str]:
        """Environment ids with a netns or an address of this runner (including leftovers)."""
        try:
            names = os.listdir(NETNS_DIR)
        except FileNotFoundError:
            names = []
        found = {env for name in names if (env := self.config.env_id_of(name)) is not None}
        return sorted(found | set(self._pool.allocations()))
