"""What an environment can and cannot reach, and what its root cannot change (real kernel)."""

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roost.runner.network import EnvNetwork, Network
from roost.runner.network.netns import read_sysctl
from tests.runner.network.support import (
    AS_CONTAINER_ROOT,
    HTTP_HEAD,
    host_main_ip,
    in_netns,
    listen,
    listen_in,
    probe,
    run,
)

pytestmark = pytest.mark.root


@dataclass
class Pair:
    a: EnvNetwork
    b: EnvNetwork
    b_listener: socket.socket

    @property
    def a_netns(self) -> str:
        return self.a.netns_path.name


@pytest.fixture
async def pair(network: Network) -> AsyncIterator[Pair]:
    a = await network.create("enva", "enva")
    b = await network.create("envb", "envb")
    listener = await asyncio.to_thread(listen_in, b.netns_path, b.address)
    resolv = Path("/etc/netns") / a.netns_path.name / "resolv.conf"  # used by `ip netns exec`
    resolv.parent.mkdir(parents=True, exist_ok=True)
    resolv.write_text(a.resolv_conf)
    try:
        yield Pair(a, b, listener)
    finally:
        listener.close()  # /etc/netns/<name> goes in the network fixture's sweep


@pytest.fixture
def host_listeners(pair: Pair) -> Iterator[dict[str, socket.socket]]:
    """Host services: on loopback, on the gateway, on the main IP, and on every address."""
    hosts = {"loopback": "127.0.0.1", "gateway": pair.a.gateway, "main": host_main_ip()}
    sockets = {name: listen(address) for name, address in hosts.items()}
    sockets["any"] = listen("0.0.0.0")  # noqa: S104 - a runner API listening everywhere
    try:
        yield sockets
    finally:
        for sock in sockets.values():
            sock.close()


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


async def test_egress_through_nat_with_working_dns(pair: Pair) -> None:
    result = in_netns(pair.a_netns, [sys.executable, "-c", HTTP_HEAD, "deb.debian.org"])
    assert result.stdout.startswith("HTTP/1."), result.stderr


async def test_other_environments_are_unreachable(pair: Pair) -> None:
    port = port_of(pair.b_listener)
    with socket.create_connection((pair.b.address, port), timeout=2):
        pass  # the host may connect: the listener is up
    assert probe(pair.a_netns, pair.b.address, port) != "ok"


async def test_env_to_env_is_rejected_by_nft_too_when_br_netfilter_is_on(
    pair: Pair, network: Network
) -> None:
    if read_sysctl("net/bridge/bridge-nf-call-iptables") != "1":
        pytest.skip("br_netfilter is off here: only port isolation applies (tested above)")
    for env in (pair.a, pair.b):  # take away the layer-2 isolation
        run("bridge", "link", "set", "dev", env.host_veth, "isolated", "off")
    assert probe(pair.a_netns, pair.b.address, port_of(pair.b_listener)) == "EHOSTUNREACH"


async def test_the_host_itself_is_unreachable(
    pair: Pair, host_listeners: dict[str, socket.socket]
) -> None:
    loopback, gateway, main, anywhere = (
        host_listeners[name] for name in ("loopback", "gateway", "main", "any")
    )
    # 127.0.0.1 inside the env is the env's own loopback: nothing listens there
    assert probe(pair.a_netns, "127.0.0.1", port_of(loopback)) == "ECONNREFUSED"
    assert probe(pair.a_netns, pair.a.gateway, port_of(gateway)) == "EHOSTUNREACH"
    assert probe(pair.a_netns, host_main_ip(), port_of(main)) == "EHOSTUNREACH"
    assert probe(pair.a_netns, pair.a.gateway, port_of(anywhere)) == "EHOSTUNREACH"
    assert probe(pair.a_netns, host_main_ip(), port_of(anywhere)) == "EHOSTUNREACH"
    assert probe(pair.a_netns, pair.a.gateway, 53) == "EHOSTUNREACH"  # no relay on this host


async def test_cloud_metadata_is_unreachable(pair: Pair) -> None:
    assert probe(pair.a_netns, "169.254.169.254", 80) == "EHOSTUNREACH"


@pytest.mark.parametrize(
    "argv",
    [
        ["ip", "addr", "add", "10.99.0.9/32", "dev", "eth0"],
        ["ip", "route", "add", "10.99.0.0/24", "dev", "eth0"],
        ["ip", "route", "del", "default"],
        ["ip", "link", "set", "eth0", "down"],
        [
            "tc",
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            "1mbit",
            "burst",
            "32kb",
            "latency",
            "50ms",
        ],
        ["nft", "add", "table", "ip", "escape"],
    ],
    ids=["addr", "route-add", "route-del", "link-down", "qdisc", "nft"],
)
async def test_container_root_cannot_change_its_network(pair: Pair, argv: list[str]) -> None:
    result = in_netns(pair.a_netns, [*AS_CONTAINER_ROOT, *argv])
    assert result.returncode != 0
    assert "Operation not permitted" in result.stderr, result.stderr


async def test_container_root_cannot_write_net_sysctls(pair: Pair) -> None:
    script = "echo 1024 > /proc/sys/net/ipv4/ip_unprivileged_port_start"
    result = in_netns(pair.a_netns, [*AS_CONTAINER_ROOT, "sh", "-c", script])
    assert result.returncode != 0
    assert "ermission denied" in result.stderr or "Read-only" in result.stderr, result.stderr


async def test_container_root_can_bind_low_ports_and_ping_sockets(pair: Pair) -> None:
    code = (
        "import socket; s = socket.socket(); s.bind(('0.0.0.0', 80)); "
        "socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); print('ok')"
    )
    result = in_netns(pair.a_netns, [*AS_CONTAINER_ROOT, "/usr/bin/python3", "-c", code])
    assert result.stdout.strip() == "ok", result.stderr
