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

Built with ``ip``/``nft`` run through ``nsenter`` (fork+exec, argv lists; three processes), and
two sysctls written from a thread that enters each namespace. Idempotent: a namespace already
wired for the running PID 1 is left alone; a stale one (a restart) is replaced.
"""

import os
import subprocess
from pathlib import Path

from roost.runner.network import netns

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
    _ip(outer, [
        f"link add {OUTER_LINK} type veth peer name eth0 netns {pid}",
        f"addr add {OUTER_ADDRESS}/{PREFIX_LEN} dev {OUTER_LINK}",
        f"link set {OUTER_LINK} up",
    ])  # fmt: skip
    _ip(inner, [
        f"addr add {INNER_ADDRESS}/{PREFIX_LEN} dev eth0",
        "link set lo up",
        "link set eth0 up",
        f"route add default via {OUTER_ADDRESS}",
    ])  # fmt: skip
    _run(outer, ["nft", "-f", "-"], NAT)
    for path, sysctls in ((outer, OUTER_SYSCTLS), (inner, INNER_SYSCTLS)):
        with netns.entered(path):
            for key, value in sysctls.items():
                netns.write_sysctl(key, value)
    return True


def unwire(outer: Path) -> None:
    """Remove the veth pair, the NAT table and the inner mount (idempotent)."""
    if netns.is_netns(outer):
        _run(outer, ["ip", "link", "del", OUTER_LINK], "", check=False)
        _run(outer, ["nft", "delete", "table", "ip", TABLE], "", check=False)
    netns.remove(inner_path(outer))


def _ip(path: Path, commands: list[str]) -> None:
    _run(path, ["ip", "-batch", "-"], "\n".join(commands) + "\n")


def _run(path: Path, argv: list[str], stdin: str, *, check: bool = True) -> None:
    done = subprocess.run(
        ["nsenter", f"--net={path}", "--", *argv], input=stdin, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise WireError(f"{' '.join(argv)} in {path.name}: {done.stderr.strip()[-500:]}")
