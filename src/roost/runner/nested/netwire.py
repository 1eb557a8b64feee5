"""The network of a nested-mode environment: a namespace it owns, behind one the host owns.

A container engine needs CAP_NET_ADMIN over the network namespace it runs in (bridges, veths,
nftables NAT, nested namespaces). The runner-made namespace belongs to the host user namespace,
so root inside has none there -- and must keep having none: that namespace holds the address on
the runner's bridge, the bandwidth caps and the egress policy. So in nested mode crun gives the
environment a *new* network namespace, created inside (hence owned by) its user namespace, and
the runner joins the two with a veth pair and routes between them::

    host bridge ── rv… ══ eth0 X/24  [outer: host-owned]  nv0 169.254.77.1/30
                                      tc caps, egress table,    ║
                                      DNAT eth0 → inner,        ║
                                      masquerade inner → X      ║
                                                 eth0 169.254.77.2/30  [inner: env-owned]
                                                 docker0, podman bridges, nested netns ...

* Root inside has raw sockets and its own routes there, so it can forge packets; they stop
  here: only the inner address may come in from ``nv0``, and a packet conntrack finds invalid
  (which NAT would not rewrite) is dropped. Frames never cross (the outer one routes).
* Everything that reaches X on the bridge (the ports proxy, SSH, another host's client) is
  DNATed to the inner address; everything the inner namespace sends leaves masqueraded as X, so
  the runner's host-side rules (environment isolation, no host access, metadata blocked) see
  the same address as for any environment.
* The caps (``tbf`` on the outer ``eth0`` and on the host end) and the egress allow-list (its
  ``forward`` chain) are on the path and out of the environment's reach. Root inside owns only
  the inner namespace and the ``eth0`` in it.
* The inner namespace is bind-mounted at :func:`inner_path` so the runner's dialer (ports,
  ``ssh -L``) connects from where the environment's processes listen.

All in-process, no fork (it is on the create path): links, addresses and the route over
netlink (``network/rtnl.py``) from a thread that enters each namespace, the table through
libnftables (ctypes) from inside the outer one, sysctls as files. Idempotent: a namespace
already wired for the running PID 1 is left alone; a stale one (a restart) is replaced.
"""

import ctypes
import ctypes.util
import functools
import ipaddress
import os
from pathlib import Path
from typing import Any

from roost.runner.network import netns, rtnl

INNER_DIR = Path("/run/roost/nested-netns")
OUTER_ADDRESS = "169.254.77.1"
INNER_ADDRESS = "169.254.77.2"
PREFIX_LEN = 30
OUTER_LINK = "nv0"
TABLE = "roost_nested"
NAT = f"""table ip {TABLE} {{
\tchain prerouting {{
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tiifname "eth0" dnat to {INNER_ADDRESS}
\t}}
\tchain postrouting {{
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname "eth0" masquerade
\t}}
\tchain forward {{
\t\ttype filter hook forward priority -10; policy accept;
\t\tiifname "{OUTER_LINK}" ip saddr != {INNER_ADDRESS} drop
\t\tiifname "{OUTER_LINK}" ct state invalid drop
\t}}
}}
"""
OUTER_SYSCTLS = {"net/ipv4/ip_forward": "1"}
INNER_SYSCTLS = {
    "net/ipv4/ip_forward": "1",  # engines NAT their containers; dockerd would ask for it
    "net/ipv4/ip_unprivileged_port_start": "0",  # as in every environment: users bind :80
    "net/ipv4/ping_group_range": "0 2147483647",
}


class WireError(RuntimeError):
    pass


def inner_path(outer: Path) -> Path:
    """Where the inner namespace of the environment whose outer one is ``outer`` is mounted."""
    return INNER_DIR / outer.name


def _same(a: Path, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def wire(outer: Path, pid: int) -> bool:
    """Join the network namespace of ``pid`` to ``outer``; False when it was wired already."""
    own = f"/proc/{pid}/ns/net"
    inner = inner_path(outer)
    if netns.is_netns(inner) and _same(inner, own):
        return False
    unwire(outer)
    if _same(outer, own):
        raise WireError("the environment runs in the runner's namespace: not in nested mode")
    netns.ensure_netns_dir(INNER_DIR)
    inner.touch(mode=0o444)
    netns.bind(own, inner)
    gateway = ipaddress.IPv4Interface(f"{OUTER_ADDRESS}/{PREFIX_LEN}")
    with netns.entered(outer):
        link = rtnl.Rtnl()
        try:
            fd = os.open(inner, os.O_RDONLY | os.O_CLOEXEC)
            try:
                link.add_veth(OUTER_LINK, "eth0", fd)
            finally:
                os.close(fd)
            index = _index(link, OUTER_LINK)
            link.replace_address(index, gateway)
            link.set_link(index, up=True)
        finally:
            link.close()
        _nft(NAT)
        _sysctls(OUTER_SYSCTLS)
    with netns.entered(inner):
        link = rtnl.Rtnl()
        try:
            eth0 = _index(link, "eth0")
            link.replace_address(eth0, ipaddress.IPv4Interface(f"{INNER_ADDRESS}/{PREFIX_LEN}"))
            link.set_link(_index(link, "lo"), up=True)
            link.set_link(eth0, up=True)
            link.replace_default_route(gateway.ip, eth0)
        finally:
            link.close()
        _sysctls(INNER_SYSCTLS)
    return True


def unwire(outer: Path) -> None:
    """Remove the veth pair, the NAT table and the inner mount (idempotent)."""
    if netns.is_netns(outer):
        with netns.entered(outer):
            link = rtnl.Rtnl()
            try:
                index = link.link_index(OUTER_LINK)
                if index is not None:
                    link.delete_link(index)  # its peer, the inner eth0, goes with it
            finally:
                link.close()
            _nft(f"delete table ip {TABLE}\n", missing_ok=True)  # nft 1.0.6: no "destroy"
    netns.remove(inner_path(outer))


def _index(link: rtnl.Rtnl, name: str) -> int:
    index = link.link_index(name)
    if index is None:
        raise WireError(f"interface {name} vanished while being wired; try again")
    return index


def _sysctls(values: dict[str, str]) -> None:
    for key, value in values.items():
        netns.write_sysctl(key, value)


@functools.cache
def _libnftables() -> Any:
    name = ctypes.util.find_library("nftables")
    if name is None:
        raise WireError("libnftables is not installed (Debian: libnftables1, with nftables)")
    lib = ctypes.CDLL(name)
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    return lib


def _nft(commands: str, *, missing_ok: bool = False) -> None:
    """Run nft commands in the calling thread's network namespace (its netlink socket is
    opened there)."""
    lib = _libnftables()
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise WireError("libnftables: no context")
    try:
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        if lib.nft_run_cmd_from_buffer(ctx, commands.encode()) != 0 and not missing_ok:
            error = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
            raise WireError(f"nftables refused the nested table: {error.strip()[-500:]}")
    finally:
        lib.nft_ctx_free(ctx)
