"""The runner's nftables ruleset: one ``inet`` table, generated whole, applied atomically.

For ``bridge=roost0, subnet=10.211.0.0/16`` (gateway 10.211.0.1) the table reads::

    table inet roost {
        set blocked_v4 { type ipv4_addr; flags interval; elements = { 169.254.169.254/32 } }

        chain input {                       # packets for the host itself
            type filter hook input priority filter; policy accept;
            iifname "roost0" jump input_from_envs
        }
        chain input_from_envs {
            ct state established,related accept     # replies to host-made connections
            ip daddr 10.211.0.1 udp dport 53 accept  # } only while the DNS relay runs
            ip daddr 10.211.0.1 tcp dport 53 accept  # }
            reject with icmpx type admin-prohibited  # any other host address and port
        }
        chain forward {
            type filter hook forward priority filter; policy accept;
            iifname "roost0" jump forward_from_envs
            oifname "roost0" jump forward_to_envs
        }
        chain forward_from_envs {
            oifname "roost0" reject with icmpx type admin-prohibited   # env -> env
            ip daddr @blocked_v4 reject with icmpx type admin-prohibited
            ct state established,related accept
            meta nfproto != ipv4 drop                 # environments are IPv4-only
            ip saddr != 10.211.0.0/16 drop            # spoofed sources
            accept
        }
        chain forward_to_envs {
            ct state established,related accept
            ct status dnat accept                     # port forwards (DNAT), when they come
            drop                                      # nobody else may open connections in
        }
        chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            ip saddr 10.211.0.0/16 oifname != "roost0" masquerade
        }
    }

Why each part:

* **The host** (its loopback services, the runner's API on any address, sshd, the bridge
  address, every other address of the host): a packet from an environment to any host address
  is delivered locally, so it meets the *input* hook with ``iifname`` = the bridge, whatever its
  destination address. ``127.0.0.0/8`` cannot even be routed there: ``route_localnet`` stays 0
  on the bridge, so the kernel drops such packets as martians before any hook.
* **Environment to environment**: bridge ports are ``isolated`` (netlink, per veth), which the
  bridge enforces at layer 2 with no netfilter involved. If ``br_netfilter`` is loaded with
  ``bridge-nf-call-iptables=1`` (Docker does that), bridged IPv4 also passes the *forward* hook
  with ``iifname`` and ``oifname`` both the bridge, and is rejected there too.
* **Egress** is masqueraded to whichever interface leads out; ``blocked`` (cloud metadata) is
  rejected first. ``reject`` rather than ``drop`` so that tools fail at once instead of hanging.
* Base chains accept by default and match only bridge traffic, so the host's other rules
  (Docker's, the admin's) keep working. Note the converse: another table's ``drop`` (e.g.
  Docker's ``FORWARD`` policy) also drops environment traffic.

The file starts with ``table inet X {}`` and ``delete table inet X``: applied as one ``nft -f``
transaction, that replaces the table atomically whether it existed or not. Organizations'
egress allow-lists are not here but in each environment's own netns (``egress.py``: no key
needed, nothing to forge); bandwidth caps are tc (``shaping.py``).
"""

import asyncio
import ipaddress

from roost.runner.network.model import NetworkConfig, NetworkError

REJECT = "reject with icmpx type admin-prohibited"
NFT_TIMEOUT_SECONDS = 30.0
NFT_CRASH_RETRIES = 3


def render_ruleset(config: NetworkConfig, *, dns_relay: bool) -> str:
    """The whole table for ``config``; the DNS rules only when the relay runs."""
    table = config.nft_table
    chains = [
        *_blocked_set(config),
        *_input_chains(config, dns_relay=dns_relay),
        *_forward_chains(config),
        *_chain(
            "postrouting",
            "type nat hook postrouting priority srcnat; policy accept;",
            f'ip saddr {config.subnet} oifname != "{config.bridge}" masquerade',
        ),
    ]
    lines = [f"table inet {table} {{}}", f"delete table inet {table}", f"table inet {table} {{"]
    return "\n".join([*lines, *(f"\t{line}" for line in chains), "}"]) + "\n"


def _chain(name: str, *rules: str) -> list[str]:
    return _block(f"chain {name}", *rules)


def _block(header: str, *lines: str) -> list[str]:
    return [f"{header} {{", *(f"\t{line}" for line in lines), "}"]


def _blocked_set(config: NetworkConfig) -> list[str]:
    if not config.blocked:
        return []
    elements = ", ".join(str(ipaddress.IPv4Network(c, strict=False)) for c in config.blocked)
    return _block(
        "set blocked_v4", "type ipv4_addr", "flags interval", f"elements = {{ {elements} }}"
    )


def _input_chains(config: NetworkConfig, *, dns_relay: bool) -> list[str]:
    gateway = config.gateway
    dns = [f"ip daddr {gateway} {proto} dport 53 accept" for proto in ("udp", "tcp")]
    return [
        *_chain(
            "input",
            "type filter hook input priority filter; policy accept;",
            f'iifname "{config.bridge}" jump input_from_envs',
        ),
        *_chain(
            "input_from_envs",
            "ct state established,related accept",
            *(dns if dns_relay else []),
            REJECT,
        ),
    ]


def _forward_chains(config: NetworkConfig) -> list[str]:
    bridge = f'"{config.bridge}"'
    blocked = [f"ip daddr @blocked_v4 {REJECT}"] if config.blocked else []
    return [
        *_chain(
            "forward",
            "type filter hook forward priority filter; policy accept;",
            f"iifname {bridge} jump forward_from_envs",
            f"oifname {bridge} jump forward_to_envs",
        ),
        *_chain(
            "forward_from_envs",
            f"oifname {bridge} {REJECT}",
            *blocked,
            "ct state established,related accept",
            "meta nfproto != ipv4 drop",
            f"ip saddr != {config.subnet} drop",
            "accept",
        ),
        *_chain(
            "forward_to_envs",
            "ct state established,related accept",
            "ct status dnat accept",
            "drop",
        ),
    ]


def render_delete(table: str) -> str:
    """Delete ``table`` whether or not it exists."""
    return f"table inet {table} {{}}\ndelete table inet {table}\n"


async def apply(ruleset: str) -> None:
    """Run ``nft -f -`` with ``ruleset`` on stdin: all of it applies, or none.

    Debian 12's nft 1.0.6 sometimes dies by a signal (SIGSEGV, nothing on stderr) when another
    process changes the ruleset while it rebuilds its cache -- several runners, or Docker, on one
    host. The file replaces the table atomically, so running it again is safe: a crash is
    retried a few times before it is reported, by its signal."""
    for attempt in range(NFT_CRASH_RETRIES + 1):
        code, stderr = await _nft(ruleset)
        if code >= 0 or attempt == NFT_CRASH_RETRIES:
            break
        await asyncio.sleep(0.05 * (attempt + 1))
    if code < 0:
        raise NetworkError(f"nft crashed (signal {-code}) applying the runner's ruleset")
    if code != 0:
        raise NetworkError(f"nft refused the runner's ruleset: {stderr}")


async def _nft(ruleset: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "nft",
        "-f",
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(NFT_TIMEOUT_SECONDS):
            _, stderr = await process.communicate(ruleset.encode())
    except TimeoutError:
        process.kill()
        await process.wait()
        raise NetworkError("nft did not finish within 30 s") from None
    return process.returncode or 0, stderr.decode().strip()  # communicate() waited for it
