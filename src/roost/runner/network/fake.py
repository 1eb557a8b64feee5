"""An in-memory :class:`~roost.runner.network.model.NetworkDriver` for tests of higher layers.

It keeps the real one's contract -- idempotent ``create`` returning the same address, ``inspect``
of what exists, idempotent ``delete``, ``list`` -- without root, namespaces or a kernel. Tests
can look at ``calls`` and pre-fill or drop entries of ``envs`` to simulate leftovers.
"""

from roost.runner.network.model import EnvNetwork, NetworkConfig, check_env_id, check_hostname
from roost.runner.network.resolv import render_hosts
from roost.runner.network.shaping import Caps


class FakeNetwork:
    """Hands out addresses in order; no kernel state is touched."""

    def __init__(self, config: NetworkConfig | None = None) -> None:
        self.config = config or NetworkConfig()
        self.envs: dict[str, EnvNetwork] = {}
        self.calls: list[tuple[str, ...]] = []
        self.host_ready = False
        self.caps: dict[str, Caps] = {}
        self.egress: dict[str, list[str] | None] = {}

    async def setup_host(self) -> None:
        self.calls.append(("setup_host",))
        self.host_ready = True

    async def teardown_host(self) -> None:
        self.calls.append(("teardown_host",))
        self.host_ready = False

    async def create(self, env_id: str, hostname: str) -> EnvNetwork:
        hostname = check_hostname(hostname or env_id)
        self.calls.append(("create", check_env_id(env_id), hostname))
        if env_id not in self.envs:
            self.envs[env_id] = self._make(env_id, hostname)
        return self.envs[env_id]

    async def inspect(self, env_id: str) -> EnvNetwork | None:
        self.calls.append(("inspect", env_id))
        return self.envs.get(env_id)

    async def delete(self, env_id: str) -> None:
        self.calls.append(("delete", env_id))
        self.envs.pop(env_id, None)

    async def set_caps(self, env_id: str, caps: Caps) -> None:
        self.calls.append(("set_caps", env_id))
        self.caps[env_id] = caps

    async def set_egress(self, env_id: str, allow: list[str] | None) -> None:
        self.calls.append(("set_egress", env_id))
        self.egress[env_id] = allow

    def _make(self, env_id: str, hostname: str) -> EnvNetwork:
        network = self.config.network
        taken = {env.address for env in self.envs.values()}
        address = next(
            str(ip) for ip in network.hosts() if ip != self.config.gateway and str(ip) not in taken
        )
        return EnvNetwork(
            env_id=env_id,
            netns_path=self.config.netns_path(env_id),
            address=address,
            prefix=network.prefixlen,
            gateway=str(self.config.gateway),
            host_veth=self.config.host_veth(env_id),
            resolv_conf=f"nameserver {self.config.gateway}\n",
            hosts=render_hosts(hostname, address),
        )

    def list(self) -> list[str]:
        return sorted(self.envs)
