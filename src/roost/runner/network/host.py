"""Once-per-runner host preparation: forwarding, the bridge, and what must stay off.

These run on the network worker thread (blocking netlink and ``/proc/sys`` writes); the
nftables table and the DNS relay are set up by :class:`~roost.runner.network.Network` itself.

* ``net.ipv4.ip_forward=1``: environments reach the outside through the host (NAT).
* The bridge gets the gateway address (first host address of the subnet) and comes up. Its
  IPv6 is disabled: environments are IPv4-only, and a link-local address on the bridge would be
  one more host address to reach.
* ``route_localnet`` is forced to 0 on the bridge, so packets to 127.0.0.0/8 arriving there are
  dropped as martians. The effective value is ``all OR <bridge>``: if the host has
  ``net.ipv4.conf.all.route_localnet=1`` (some port-forwarding setups need it), a warning is
  logged, and the nftables input chain still rejects everything from the bridge to the host.
* The subnet must not overlap a route the host already has through another interface (Docker's
  172.17.0.0/16, podman's 10.88.0.0/16, a LAN): that would silently break one of the two.
"""

import ipaddress
import logging

from roost.runner.network import links
from roost.runner.network.model import NetworkConfig, NetworkError
from roost.runner.network.netns import disable_ipv6, read_sysctl, write_sysctl

log = logging.getLogger(__name__)


def setup(ipr: links.Rtnl, config: NetworkConfig) -> None:
    """Idempotent: forwarding on, the bridge up with the gateway address, localnet off."""
    network = config.network
    conflicts = links.overlapping_routes(ipr, network, links.index_of(ipr, config.bridge))
    if conflicts:
        raise NetworkError(
            f"subnet {network} overlaps existing routes ({', '.join(conflicts)}): give the "
            "runner another subnet"
        )
    write_sysctl("net/ipv4/ip_forward", "1")
    gateway = ipaddress.IPv4Interface(f"{config.gateway}/{network.prefixlen}")
    links.ensure_bridge(ipr, config.bridge, gateway)
    write_sysctl(f"net/ipv4/conf/{config.bridge}/route_localnet", "0")
    disable_ipv6(config.bridge)
    if read_sysctl("net/ipv4/conf/all/route_localnet") != "0":
        log.warning(
            "net.ipv4.conf.all.route_localnet=1 on this host; environments still cannot reach "
            "the host's loopback (the %s input chain rejects them), but consider turning it off",
            config.nft_table,
        )


def teardown(ipr: links.Rtnl, config: NetworkConfig) -> None:
    """Delete the bridge (environments' veths, if any are left, simply lose their master)."""
    links.delete_link(ipr, config.bridge)
