"""Links, addresses and routes through rtnetlink (pyroute2's synchronous ``IPRoute``).

Every function takes an ``IPRoute`` whose socket is bound to the namespace to act on: the
runner's own for the bridge and the host veth, an environment's (opened inside it, see
``netns.entered``) for ``lo``/``eth0`` and the default route. All of them are idempotent:
"already exists" and "already gone" are success, so a create or delete interrupted by a crash
or a restart is finished by simply running it again.

pyroute2 ships no type stubs; its objects are ``Any`` here and stay inside this module.
"""

import errno
import ipaddress
import socket
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from roost.runner.network.model import ENV_IFNAME, NetworkError

Rtnl = Any
"""An ``IPRoute``; pyroute2 is untyped."""


def open_rtnl() -> Rtnl:
    """A netlink socket in the calling thread's current netns (no fork, unlike ``netns=``)."""
    return IPRoute()


def index_of(ipr: Rtnl, name: str) -> int | None:
    """The index of interface ``name``, asking the kernel for that one link.

    (``link_lookup`` dumps and parses every link on the host: with hundreds of environments,
    each one a veth, that made each create slower than the last.)
    """
    try:
        found = ipr.link("get", ifname=name)
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise
    return int(found[0]["index"]) if found else None


def _require(ipr: Rtnl, name: str) -> int:
    index = index_of(ipr, name)
    if index is None:
        raise NetworkError(f"interface {name} vanished while being set up; try again")
    return index


def _tolerate(codes: tuple[int, ...], call: Any, *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code not in codes:
            raise


def ensure_bridge(ipr: Rtnl, name: str, address: ipaddress.IPv4Interface) -> int:
    """The bridge ``name``, created if missing, with ``address`` and up; returns its index."""
    index = index_of(ipr, name)
    if index is None:
        _tolerate((errno.EEXIST,), ipr.link, "add", ifname=name, kind="bridge")
        index = _require(ipr, name)
    kind = ipr.get_links(index)[0].get(("IFLA_LINKINFO", "IFLA_INFO_KIND"))
    if kind != "bridge":
        raise NetworkError(f"interface {name} exists and is not a bridge: pick another name")
    add_address(ipr, index, address)
    ipr.link("set", index=index, state="up")
    return index


def add_address(ipr: Rtnl, index: int, address: ipaddress.IPv4Interface) -> None:
    _tolerate(
        (errno.EEXIST,),
        ipr.addr,
        "add",
        index=index,
        address=str(address.ip),
        prefixlen=address.network.prefixlen,
    )


def delete_link(ipr: Rtnl, name: str) -> None:
    """Delete a link by name (idempotent). Deleting one end of a veth deletes both."""
    index = index_of(ipr, name)
    if index is not None:
        _tolerate((errno.ENODEV,), ipr.link, "del", index=index)


def master_of(ipr: Rtnl, index: int) -> int | None:
    master = ipr.get_links(index)[0].get("IFLA_MASTER")
    return int(master) if master else None


def env_addresses(ipr: Rtnl) -> list[ipaddress.IPv4Interface]:
    """The IPv4 addresses on ``eth0`` inside an env netns (empty if there is no eth0)."""
    eth0 = index_of(ipr, ENV_IFNAME)
    if eth0 is None:
        return []
    return [
        ipaddress.IPv4Interface(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
        for msg in ipr.get_addr(family=socket.AF_INET, index=eth0)
    ]


def overlapping_routes(
    ipr: Rtnl, network: ipaddress.IPv4Network, bridge_index: int | None
) -> list[str]:
    """Routes of the main table (besides the default and our bridge's) that overlap ``network``."""
    found = []
    for msg in ipr.get_routes(family=socket.AF_INET, table=254):
        if msg["dst_len"] == 0 or msg.get("RTA_OIF") == bridge_index:
            continue
        route = ipaddress.IPv4Network(f"{msg.get('RTA_DST')}/{msg['dst_len']}", strict=False)
        if route.overlaps(network):
            index = msg.get("RTA_OIF")
            dev = ipr.get_links(index)[0].get("IFLA_IFNAME") if index else "?"
            found.append(f"{route} dev {dev}")
    return found
