"""Egress allow-lists: an organization may restrict where its environments connect to.

The rule lives **inside the environment's own network namespace** -- an ``inet`` table with an
output chain -- rather than in the runner's table on the host. Everything that leaves a netns
is that one environment's traffic, so the table needs no key at all: not the source address
(which a process with enough privilege could forge), not the veth (which the host's forward
hook does not see: routed packets from a bridge carry the bridge's name). And the namespace
belongs to the host user namespace, so root inside has no CAP_NET_ADMIN there and cannot list,
change or delete the table. Environments without a policy get no table and pay nothing::

    table inet roost_egress {
        set allow { type ipv4_addr; flags interval; elements = { 140.82.112.0/20, ... } }
        chain output {
            type filter hook output priority filter; policy accept;
            oif "lo" accept                        # its own loopback
            ct state established,related accept    # answers on connections made *to* it
            ip daddr 10.211.0.1 accept             # the gateway: the host's rules decide (DNS)
            ip daddr { 10.255.255.53 } accept      # its nameservers
            ip daddr @allow accept
            reject with icmpx type admin-prohibited   # fails at once, does not hang
        }
        chain forward {                            # the same, for a nested-mode environment
            type filter hook forward priority filter; policy accept;
            iifname "eth0" accept                  # toward it (the ports, SSH)
            ct state established,related accept
            ip daddr 10.211.0.1 accept ... reject  # as in output
        }
    }

In nested-containers mode the environment's processes live in a namespace of their own behind
this one (``runner/nested/netwire.py``), so their traffic is *forwarded* here, not output: the
forward chain holds the same policy. Other environments never forward, and pay nothing for it.

What stays on the host, whatever the list says: the runner's table still rejects other
environments, the host itself and 169.254.169.254 (``ruleset.py``), so an allow-list can only
narrow egress, never widen it.

Applied with ``nft -f`` run *inside* the netns: the network worker thread enters it and starts
``nft`` from there (a child process inherits its creator thread's namespaces). The file
replaces the table atomically; an empty policy deletes it.
"""

import ipaddress
import subprocess
from collections.abc import Sequence

from roost.runner.network import netns, ruleset
from roost.runner.network.model import NetworkConfig, NetworkError

TABLE = "roost_egress"
REJECT = "reject with icmpx type admin-prohibited"


def normalize(cidrs: Sequence[str]) -> list[str]:
    """Sorted, merged IPv4 networks; a host address becomes a /32. Refuses anything else."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.IPv4Network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise NetworkError(
                f"egress allow-list entry {cidr!r} is not an IPv4 address or network: {exc}",
                code="network_invalid_policy",
            ) from exc
    return [str(n) for n in ipaddress.collapse_addresses(networks)]


def render(allow: Sequence[str], gateway: str, nameservers: Sequence[str]) -> str:
    """The table for an allow-list (``allow`` already normalized)."""
    lines = [ruleset.render_delete(TABLE).rstrip("\n"), f"table inet {TABLE} {{"]
    if allow:
        elements = ", ".join(allow)
        lines += ["\tset allow {", "\t\ttype ipv4_addr; flags interval;"]
        lines += [f"\t\telements = {{ {elements} }}", "\t}"]
    rules = [
        "type filter hook output priority filter; policy accept;",
        'oif "lo" accept',
        "ct state established,related accept",
        f"ip daddr {gateway} accept",
    ]
    servers = [s for s in nameservers if ipaddress.ip_address(s).version == 4]
    if servers:
        rules.append(f"ip daddr {{ {', '.join(servers)} }} accept")
    if allow:
        rules.append("ip daddr @allow accept")
    rules.append(REJECT)
    lines += ["\tchain output {", *(f"\t\t{rule}" for rule in rules), "\t}"]
    forward = [
        "type filter hook forward priority filter; policy accept;",
        'iifname "eth0" accept',
        *rules[2:],
    ]
    lines += ["\tchain forward {", *(f"\t\t{rule}" for rule in forward), "\t}", "}"]
    return "\n".join(lines) + "\n"


def render_delete() -> str:
    return ruleset.render_delete(TABLE)


def apply(config: NetworkConfig, env_id: str, ruleset: str) -> None:
    """Worker thread: load ``ruleset`` into the environment's netns."""
    with netns.entered(config.netns_path(env_id)):
        result = subprocess.run(
            ["nft", "-f", "-"], input=ruleset, capture_output=True, text=True, timeout=30,
            check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise NetworkError(f"nft refused the egress policy: {result.stderr.strip()}")
