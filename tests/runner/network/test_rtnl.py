"""The hand-written rtnetlink constants agree with pyroute2's tables (its authors track the
kernel headers); a wrong number here once set 802.1X "locked" instead of "isolated"."""

from pyroute2.netlink.rtnl import ifaddrmsg, ifinfmsg, rtmsg
from pyroute2.netlink.rtnl.ifinfmsg import protinfo_bridge

from roost.runner.network import rtnl


def index(nla_map: object, name: str) -> int:
    names = [
        entry[0] if isinstance(entry, tuple) and isinstance(entry[0], str) else entry[1]
        for entry in nla_map
    ]  # type: ignore[attr-defined]
    return names.index(name)


def test_attribute_numbers_match_pyroute2() -> None:
    links = ifinfmsg.ifinfmsg.nla_map
    assert index(links, "IFLA_IFNAME") == rtnl.IFLA_IFNAME
    assert index(links, "IFLA_MASTER") == rtnl.IFLA_MASTER
    assert index(links, "IFLA_PROTINFO") == rtnl.IFLA_PROTINFO
    assert index(links, "IFLA_LINKINFO") == rtnl.IFLA_LINKINFO
    assert index(links, "IFLA_NET_NS_FD") == rtnl.IFLA_NET_NS_FD
    assert index(protinfo_bridge.nla_map, "IFLA_BRPORT_ISOLATED") == rtnl.IFLA_BRPORT_ISOLATED
    assert index(ifaddrmsg.ifaddrmsg.nla_map, "IFA_LOCAL") == rtnl.IFA_LOCAL
    assert index(ifaddrmsg.ifaddrmsg.nla_map, "IFA_ADDRESS") == rtnl.IFA_ADDRESS
    assert index(rtmsg.rtmsg.nla_map, "RTA_GATEWAY") == rtnl.RTA_GATEWAY
    assert index(rtmsg.rtmsg.nla_map, "RTA_OIF") == rtnl.RTA_OIF
