"""One environment's plumbing: netns, veth pair, address, default route. Worker thread only.

:func:`build` converges on the complete state from whatever exists -- nothing, a netns from a
create that crashed half way, or a complete network (then it changes nothing) -- so it is
both "create" and "repair". :func:`destroy` removes whatever exists. Neither spawns a process:
``netns.create`` unshares on this thread, and netlink does the rest.

A new netns gets, before anything else, the sysctls an environment needs but its root cannot
set (the netns belongs to the host user namespace):

* ``net.ipv4.ip_unprivileged_port_start=0``: container root lacks ``CAP_NET_BIND_SERVICE``
  over this netns, and sshd/web servers bind ports below 1024.
* ``net.ipv4.ping_group_range=0 2147483647``: ``ping`` through ICMP datagram sockets, since
  raw sockets need ``CAP_NET_RAW`` over the netns.
* ``net.ipv6.conf.default.disable_ipv6=1``: ``eth0``, created afterwards, gets no IPv6 (the
  environment is IPv4-only); ``lo`` already exists, so ``::1`` keeps working.
"""

import ipaddress

from roost.runner.network import links, netns
from roost.runner.network.model import ENV_IFNAME, NETNS_DIR, NetworkConfig, NetworkError

ENV_SYSCTLS = (
    ("net/ipv4/ip_unprivileged_port_start", "0"),
    ("net/ipv4/ping_group_range", "0 2147483647"),
)


def _prepare() -> links.Rtnl:
    """Runs inside a brand-new netns: sysctls, then a netlink socket bound to it."""
    for key, value in ENV_SYSCTLS:
        netns.write_sysctl(key, value)
    netns.disable_ipv6("default")
    return links.open_rtnl()


def _open_env(config: NetworkConfig, env_id: str) -> links.Rtnl:
    """A netlink socket inside the env's netns, creating the netns if needed."""
    path = config.netns_path(env_id)
    if not netns.is_netns(path):
        netns.remove(path)  # an unmounted placeholder left by a crash
        return netns.create(path, _prepare)
    with netns.entered(path):
        return links.open_rtnl()


def build(
    ipr: links.Rtnl, config: NetworkConfig, env_id: str, address: ipaddress.IPv4Address
) -> None:
    """Make (or finish) the environment's network: idempotent."""
    bridge = links.index_of(ipr, config.bridge)
    if bridge is None:
        raise NetworkError(f"bridge {config.bridge} is missing: run the runner's host setup")
    netns.ensure_netns_dir(NETNS_DIR)
    veth = config.host_veth(env_id)
    env_ipr = _open_env(config, env_id)
    try:
        index = links.index_of(ipr, veth)
        if index is None or links.index_of(env_ipr, ENV_IFNAME) is None:
            links.delete_link(ipr, veth)  # a leftover whose peer died with an older netns
            index = links.add_veth(ipr, veth, str(config.netns_path(env_id)))
            netns.disable_ipv6(veth)
        links.attach_isolated(ipr, index, bridge)
        interface = ipaddress.IPv4Interface(f"{address}/{config.network.prefixlen}")
        links.configure_env(env_ipr, interface, config.gateway)
    finally:
        env_ipr.close()


def destroy(ipr: links.Rtnl, config: NetworkConfig, env_id: str) -> None:
    """Delete the veth pair (synchronously) and the netns name (idempotent).

    The namespace itself dies when its last user is gone; a container still running in it
    keeps it alive, but without a network.
    """
    links.delete_link(ipr, config.host_veth(env_id))
    netns.remove(config.netns_path(env_id))


def is_complete(
    ipr: links.Rtnl, config: NetworkConfig, env_id: str, address: ipaddress.IPv4Address
) -> bool:
    """True when the netns exists, its veth is on our bridge, and eth0 carries ``address``."""
    path = config.netns_path(env_id)
    veth = links.index_of(ipr, config.host_veth(env_id))
    bridge = links.index_of(ipr, config.bridge)
    if not netns.is_netns(path) or veth is None or links.master_of(ipr, veth) != bridge:
        return False
    with netns.entered(path):
        env_ipr = links.open_rtnl()
    try:
        return any(iface.ip == address for iface in links.env_addresses(env_ipr))
    finally:
        env_ipr.close()
