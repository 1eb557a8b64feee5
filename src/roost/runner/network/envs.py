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
import os

from roost.runner.network import links, netns, rtnl
from roost.runner.network.model import ENV_IFNAME, NETNS_DIR, NetworkConfig, NetworkError

ENV_SYSCTLS = (
    ("net/ipv4/ip_unprivileged_port_start", "0"),
    ("net/ipv4/ping_group_range", "0 2147483647"),
)


def _prepare() -> rtnl.Rtnl:
    """Runs inside a brand-new netns: sysctls, then a netlink socket bound to it."""
    for key, value in ENV_SYSCTLS:
        netns.write_sysctl(key, value)
    netns.disable_ipv6("default")
    return rtnl.Rtnl()


def _open_env(config: NetworkConfig, env_id: str) -> rtnl.Rtnl:
    """A netlink socket inside the env's netns, creating the netns if needed."""
    path = config.netns_path(env_id)
    if not netns.is_netns(path):
        netns.remove(path)  # an unmounted placeholder left by a crash
        return netns.create(path, _prepare)
    with netns.entered(path):
        return rtnl.Rtnl()


def build(
    host: rtnl.Rtnl, config: NetworkConfig, env_id: str, address: ipaddress.IPv4Address
) -> None:
    """Make (or finish) the environment's network: idempotent."""
    bridge = host.link_index(config.bridge)
    if bridge is None:
        raise NetworkError(f"bridge {config.bridge} is missing: run the runner's host setup")
    netns.ensure_netns_dir(NETNS_DIR)
    veth = config.host_veth(env_id)
    env = _open_env(config, env_id)
    try:
        index, eth0 = host.link_index(veth), env.link_index(ENV_IFNAME)
        if index is None or eth0 is None:
            if index is not None:
                host.delete_link(index)  # a leftover whose peer died with an older netns
            index, eth0 = _add_veth(host, env, config, env_id)
        host.set_link(index, up=True, master=bridge)
        host.set_port_isolated(index)
        lo = env.link_index("lo")
        if lo is None:
            raise NetworkError("environment netns lacks lo; delete and create it again")
        env.set_link(lo, up=True)
        env.replace_address(eth0, ipaddress.IPv4Interface(f"{address}/{config.network.prefixlen}"))
        env.set_link(eth0, up=True)
        env.replace_default_route(config.gateway, eth0)
    finally:
        env.close()


def _add_veth(
    host: rtnl.Rtnl, env: rtnl.Rtnl, config: NetworkConfig, env_id: str
) -> tuple[int, int]:
    """A veth pair: the host end here, ``eth0`` created directly inside the netns."""
    veth = config.host_veth(env_id)
    fd = os.open(config.netns_path(env_id), os.O_RDONLY | os.O_CLOEXEC)
    try:
        host.add_veth(veth, ENV_IFNAME, fd)
    finally:
        os.close(fd)
    netns.disable_ipv6(veth)
    index, eth0 = host.link_index(veth), env.link_index(ENV_IFNAME)
    if index is None or eth0 is None:
        raise NetworkError(f"interface {veth} vanished while being set up; try again")
    return index, eth0


def destroy(host: rtnl.Rtnl, config: NetworkConfig, env_id: str) -> None:
    """Delete the veth pair (synchronously) and the netns name (idempotent).

    The namespace itself dies when its last user is gone; a container still running in it
    keeps it alive, but without a network.
    """
    index = host.link_index(config.host_veth(env_id))
    if index is not None:
        host.delete_link(index)
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
