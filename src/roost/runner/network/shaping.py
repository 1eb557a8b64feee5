"""Upload and download caps: a token-bucket filter (``tbf``) on each side of the veth.

A qdisc shapes what *leaves* an interface, so the two directions are shaped at the two ends::

    environment netns                 host
    eth0  --(upload: tbf on eth0)-->  rv<hash>  --> bridge --> NAT --> outside
    eth0  <--(download: tbf on rv…)-- rv<hash>  <-- bridge <-- NAT <-- outside

Both qdiscs are out of the environment's reach: ``rv…`` is in the host's netns, and ``eth0``'s
is in a netns owned by the host user namespace, where root inside has no CAP_NET_ADMIN.

Parameters: the bucket (``burst``) holds 20 ms at the rate but at least 64 KiB, so a 64 KiB
GSO segment from the veth always fits (a smaller bucket makes tbf cut it up, or stall); the
queue holds 50 ms (``latency``) beyond that, after which packets drop and TCP backs off. With
these, long transfers measure within a few percent of the cap (``tests/runner/resources``).

Set through netlink (pyroute2's ``tc``, about 0.6 ms a call) on the network worker thread; no
``tc`` process. ``None`` removes a cap. Idempotent: ``replace`` creates or changes the qdisc,
and removing one that is not there is fine.
"""

import errno
from dataclasses import dataclass

from pyroute2.netlink.exceptions import NetlinkError

from roost.runner.network import links, netns
from roost.runner.network.model import ENV_IFNAME, NetworkConfig, NetworkError

ROOT_HANDLE = 0x10000  # "1:"
TC_H_ROOT = 0xFFFFFFFF
MIN_BURST_BYTES = 64 << 10
BURST_SECONDS = 0.02
LATENCY = "50ms"


@dataclass(frozen=True)
class Caps:
    """Mbit/s each way; ``None`` is uncapped."""

    upload_mbit: int | None = None
    download_mbit: int | None = None


def burst_bytes(mbit: int) -> int:
    return max(MIN_BURST_BYTES, int(mbit * 1_000_000 / 8 * BURST_SECONDS))


def _shape(ipr: links.Rtnl, ifname: str, mbit: int | None) -> None:
    index = links.index_of(ipr, ifname)
    if index is None:
        raise NetworkError(f"interface {ifname} is missing; the environment's network is broken")
    if mbit is None:
        try:
            ipr.tc("del", index=index, handle=ROOT_HANDLE, parent=TC_H_ROOT)
        except NetlinkError as exc:
            if exc.code not in (errno.ENOENT, errno.EINVAL):
                raise
        return
    ipr.tc(
        "replace", "tbf", index=index, handle=ROOT_HANDLE,
        rate=f"{mbit}mbit", burst=burst_bytes(mbit), latency=LATENCY,
    )  # fmt: skip


def apply(host: links.Rtnl, config: NetworkConfig, env_id: str, caps: Caps) -> None:
    """Worker thread: download on the host's veth end, upload on eth0 inside the netns."""
    _shape(host, config.host_veth(env_id), caps.download_mbit)
    with netns.entered(config.netns_path(env_id)):
        inside = links.open_rtnl()
    try:
        _shape(inside, ENV_IFNAME, caps.upload_mbit)
    finally:
        inside.close()
