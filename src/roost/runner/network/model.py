"""The vocabulary of per-environment networking: configuration, results, errors and names.

Names are derived, never stored: given the runner's :class:`NetworkConfig` and an environment id,
the netns path and the host-side veth name are always the same, so a runner that restarts (or
was killed with ``kill -9``) finds everything it created without a database.

Two runners on one host must differ in ``bridge``, ``nft_table``, ``state_dir`` and
``netns_prefix`` (and, of course, ``subnet``); tests rely on that to run next to a real runner.
"""

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from roost.core.errors import PermanentError

if TYPE_CHECKING:
    from roost.runner.network.shaping import Caps

NETNS_DIR = Path("/run/netns")
"""Where named network namespaces live; the same place as ``ip netns``, so its tools work."""

ENV_IFNAME = "eth0"
"""The environment's side of its veth pair, inside its netns."""

_ENV_ID = re.compile(r"[a-z0-9_]{1,64}")
_IFNAME = re.compile(r"[A-Za-z0-9_-]{1,15}")
_NFT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_PREFIX = re.compile(r"[a-z0-9_.-]{0,32}")
_LABEL = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}"  # lenient: /etc/hosts only needs no blanks
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


class NetworkError(PermanentError):
    """Setting up or tearing down environment networking failed; the message says why."""

    code = "network_failed"


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise NetworkError(f"invalid network configuration: {what}", code="network_invalid_config")


@dataclass(frozen=True)
class NetworkConfig:
    """One runner's networking. Every name here is host-global, so pick unique ones per runner."""

    bridge: str = "roost0"
    subnet: str = "10.211.0.0/16"
    """IPv4 only. The gateway (on the bridge) is its first host address. Keep clear of
    10.88.0.0/16 (podman) and 172.17.0.0/16 (docker); ``setup_host`` refuses overlapping routes."""
    nft_table: str = "roost"
    state_dir: Path = Path("/var/lib/roost/network")
    dns_servers: tuple[str, ...] = ()
    """Empty: use the host's ``/etc/resolv.conf`` (relayed when it names a loopback resolver)."""
    blocked: tuple[str, ...] = ("169.254.169.254/32",)
    """IPv4 CIDRs environments may never reach (IPv6 from environments is dropped entirely)."""
    netns_prefix: str = "roost-"
    host_resolv_conf: Path = Path("/etc/resolv.conf")

    def __post_init__(self) -> None:
        _check(bool(_IFNAME.fullmatch(self.bridge)), f"bridge name {self.bridge!r}")
        _check(bool(_NFT_NAME.fullmatch(self.nft_table)), f"nft table name {self.nft_table!r}")
        _check(bool(_PREFIX.fullmatch(self.netns_prefix)), f"netns prefix {self.netns_prefix!r}")
        try:
            network = ipaddress.IPv4Network(self.subnet)
            for cidr in self.blocked:
                ipaddress.IPv4Network(cidr, strict=False)
            for server in self.dns_servers:
                ipaddress.ip_address(server)
        except ValueError as exc:
            raise NetworkError(
                f"invalid network configuration: {exc}", code="network_invalid_config"
            ) from exc
        _check(network.prefixlen <= 29, f"subnet {self.subnet} is too small (at most /29)")

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        """The bridge's address: the environments' default route (and DNS relay, if any)."""
        return self.network.network_address + 1

    def netns_path(self, env_id: str) -> Path:
        return NETNS_DIR / f"{self.netns_prefix}{check_env_id(env_id)}"

    def host_veth(self, env_id: str) -> str:
        """``rv`` + 13 hex digits of a hash of (bridge, env id): 15 characters, IFNAMSIZ - 1."""
        digest = hashlib.sha256(f"{self.bridge}\0{check_env_id(env_id)}".encode()).hexdigest()
        return f"rv{digest[:13]}"

    def env_id_of(self, netns_name: str) -> str | None:
        """The environment id of one of this runner's netns names, or ``None``."""
        if not netns_name.startswith(self.netns_prefix):
            return None
        env_id = netns_name[len(self.netns_prefix) :]
        return env_id if _ENV_ID.fullmatch(env_id) else None


@dataclass(frozen=True)
class EnvNetwork:
    """An environment's network as the container driver needs it."""

    env_id: str
    netns_path: Path
    """Give this to crun as the ``network`` namespace path."""
    address: str
    prefix: int
    gateway: str
    host_veth: str
    resolv_conf: str
    """Content for the environment's ``/etc/resolv.conf``."""
    hosts: str
    """Content for the environment's ``/etc/hosts``."""


def check_env_id(env_id: str) -> str:
    """Environment ids become file and netns names: lowercase letters, digits, ``_`` only."""
    if not _ENV_ID.fullmatch(env_id):
        raise NetworkError(f"invalid environment id {env_id!r}", code="network_invalid_env")
    return env_id


def check_hostname(hostname: str) -> str:
    if len(hostname) > 253 or not _HOSTNAME.fullmatch(hostname):
        raise NetworkError(f"invalid hostname {hostname!r}", code="network_invalid_env")
    return hostname


class NetworkDriver(Protocol):
    """What the container driver and the agent use: :class:`Network`, or a fake in tests."""

    async def setup_host(self) -> None: ...

    async def teardown_host(self) -> None: ...

    async def create(self, env_id: str, hostname: str) -> EnvNetwork: ...

    async def inspect(self, env_id: str) -> EnvNetwork | None: ...

    async def delete(self, env_id: str) -> None: ...

    async def set_caps(self, env_id: str, caps: "Caps") -> None: ...

    async def set_egress(self, env_id: str, allow: list[str] | None) -> None: ...

    def list(self) -> list[str]: ...
