"""Real netns/veth/bridge/nft: create, inspect, re-adoption after a restart, delete, timing."""

import asyncio
import ipaddress
import statistics
import subprocess
import time

import pytest

from roost.runner.network import Network, NetworkError
from roost.runner.network.netns import is_netns, read_sysctl
from tests.runner.network.support import MakeConfig, in_netns, run, sweep

pytestmark = pytest.mark.root


def link_exists(name: str) -> bool:
    result = subprocess.run(["ip", "link", "show", name], capture_output=True, check=False)
    return result.returncode == 0


async def test_setup_host_is_idempotent_and_sets_what_it_promises(network: Network) -> None:
    await network.setup_host()  # a second time, as after a runner restart
    config = network.config
    assert read_sysctl("net/ipv4/ip_forward") == "1"
    assert read_sysctl(f"net/ipv4/conf/{config.bridge}/route_localnet") == "0"
    addresses = run("ip", "-4", "-o", "addr", "show", config.bridge)
    assert f"{config.gateway}/24" in addresses
    assert "masquerade" in run("nft", "list", "table", "inet", config.nft_table)


async def test_create_builds_a_complete_env_network(network: Network) -> None:
    env = await network.create("enva", "enva.test")
    netns = env.netns_path.name
    assert is_netns(env.netns_path)
    assert ipaddress.IPv4Address(env.address) in network.config.network
    assert env.gateway == str(network.config.gateway)
    addr = in_netns(netns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
    assert f"{env.address}/{env.prefix}" in addr
    assert f"default via {env.gateway} dev eth0" in in_netns(netns, ["ip", "route"]).stdout
    assert "<LOOPBACK,UP" in in_netns(netns, ["ip", "link", "show", "lo"]).stdout
    sysctls = in_netns(
        netns,
        ["sysctl", "-n", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ping_group_range"],
    ).stdout.split()
    assert sysctls == ["0", "0", "2147483647"]
    assert read_sysctl("net/ipv4/ip_unprivileged_port_start") != "0"  # not the host's
    port = run("bridge", "-d", "link", "show", "dev", env.host_veth)
    assert f"master {network.config.bridge}" in port
    assert "isolated on" in port
    assert f"{env.address}\tenva.test enva" in env.hosts
    assert "nameserver 10.255.255.53" in env.resolv_conf  # this machine's host resolver


async def test_create_is_idempotent_and_readopted_after_a_restart(network: Network) -> None:
    first = await network.create("envr", "envr")
    assert await network.create("envr", "envr") == first
    restarted = Network(network.config)  # a new runner process, same config
    try:
        assert await restarted.inspect("envr") == first
        assert await restarted.create("envr", "envr") == first
        assert restarted.list() == ["envr"]
    finally:
        await restarted.close()


async def test_a_partial_network_is_not_inspected_but_completed_by_create(network: Network) -> None:
    env = await network.create("envp", "envp")
    run("ip", "link", "del", env.host_veth)  # as if the runner died in the middle of create
    assert await network.inspect("envp") is None
    assert network.list() == ["envp"]
    assert await network.create("envp", "envp") == env  # same address
    assert await network.inspect("envp") == env


async def test_delete_removes_netns_veth_and_address(network: Network) -> None:
    env = await network.create("envd", "envd")
    await network.delete("envd")
    await network.delete("envd")  # idempotent
    assert not env.netns_path.exists()
    assert not link_exists(env.host_veth)
    assert not (network.config.state_dir / "addresses" / env.address).exists()
    assert network.list() == []
    assert await network.inspect("envd") is None


async def test_leftover_placeholder_is_listed_and_deleted(network: Network) -> None:
    ghost = network.config.netns_path("ghost")
    ghost.parent.mkdir(exist_ok=True)
    ghost.touch()  # a crash between creating the file and mounting the netns
    assert "ghost" in network.list()
    assert await network.inspect("ghost") is None
    await network.delete("ghost")
    assert not ghost.exists()


async def test_concurrent_creates_get_distinct_addresses(network: Network) -> None:
    envs = await asyncio.gather(*(network.create(f"envc{i}", "c") for i in range(8)))
    assert len({env.address for env in envs}) == 8
    assert network.list() == sorted(f"envc{i}" for i in range(8))


async def test_a_failed_first_create_leaves_nothing(make_config: MakeConfig) -> None:
    net = Network(make_config())  # no setup_host: the bridge is missing
    try:
        with pytest.raises(NetworkError, match="bridge"):
            await net.create("envf", "envf")
        assert net.list() == []
        assert not net.config.netns_path("envf").exists()
    finally:
        await net.close()
        sweep(net.config)


async def test_create_and_delete_timing(
    network: Network, capsys: pytest.CaptureFixture[str]
) -> None:
    creates, deletes = [], []
    for i in range(20):
        start = time.perf_counter()
        await network.create(f"envt{i}", "t")
        creates.append(time.perf_counter() - start)
    for i in range(20):
        start = time.perf_counter()
        await network.delete(f"envt{i}")
        deletes.append(time.perf_counter() - start)
    create_ms, delete_ms = statistics.median(creates) * 1000, statistics.median(deletes) * 1000
    with capsys.disabled():
        print(f"\nnetwork create median {create_ms:.1f} ms, delete median {delete_ms:.1f} ms")
    assert create_ms < 20
