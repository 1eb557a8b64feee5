"""Relay mode, as on a laptop with a loopback resolver: envs resolve through the gateway."""

import asyncio
import sys
from pathlib import Path

import pytest

from tests.runner.network.support import HTTP_HEAD, MakeConfig, in_netns, managed, probe

pytestmark = pytest.mark.root


async def test_envs_resolve_through_the_relay_on_the_gateway(make_config: MakeConfig) -> None:
    # 127.0.0.1:53 has no server here: the relay fails over to the next upstream
    config = make_config(213, dns_servers=("127.0.0.1", "10.255.255.53"))
    async with managed(config) as network:
        relay = network.dns_relay
        assert relay is not None
        assert relay.udp_address == (str(config.gateway), 53)
        env = await network.create("envdns", "envdns")
        assert f"nameserver {config.gateway}\n" in env.resolv_conf
        resolv = Path("/etc/netns") / env.netns_path.name / "resolv.conf"
        resolv.parent.mkdir(parents=True, exist_ok=True)
        resolv.write_text(env.resolv_conf)

        # the relay runs on this event loop: wait for the probes in threads
        netns = env.netns_path.name
        web = await asyncio.to_thread(
            in_netns, netns, [sys.executable, "-c", HTTP_HEAD, "deb.debian.org"]
        )
        assert web.stdout.startswith("HTTP/1."), web.stderr  # UDP DNS via the relay, then NAT
        # TCP reaches the relay too (its forwarding is unit-tested: this host's upstream
        # speaks no DNS over TCP); every other port of the gateway stays closed
        assert await asyncio.to_thread(probe, netns, env.gateway, 53) == "ok"
        assert await asyncio.to_thread(probe, netns, env.gateway, 22) == "EHOSTUNREACH"  # only DNS
    assert network.dns_relay is None
