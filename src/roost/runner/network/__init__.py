"""Per-environment networking for the runner.

Every environment gets its own network namespace, created and owned by the host (initial) user
namespace, with one interface, ``eth0``: the far end of a veth pair whose host end is a port of
the runner's bridge. The bridge carries the gateway address; the host routes and masquerades
environments' traffic to the outside::

    env A netns            host                                    outside
    eth0 10.211.0.2 ─ veth rv… ─┐
                                ├─ bridge roost0 10.211.0.1 ─ NAT ─ eth0 ─ internet
    eth0 10.211.0.3 ─ veth rv… ─┘        (nftables table "roost")

What an environment can and cannot do:

* It reaches the internet (NAT) and resolves names (the host's nameservers, or a relay on the
  gateway when the host's resolver is on loopback: ``resolv.py``, ``dns.py``).
* It cannot reach other environments: bridge ports are isolated, and the firewall rejects
  bridge-to-bridge forwarding in case ``br_netfilter`` is loaded (``ruleset.py``).
* Its upload and download are capped by its class (``shaping.py``), and its organization may
  restrict where it connects to (``egress.py``).
* It cannot reach the host itself -- loopback services, the runner's API, sshd, any host
  address -- nor the ``blocked`` networks (cloud metadata, 169.254.169.254) (``ruleset.py``).
* Its root cannot change any of this: root inside the environment's user namespace has no
  capability over a netns owned by the host user namespace, so addresses, routes, qdiscs,
  firewall rules and net sysctls are out of its reach (``netns.py``).

Modules, bottom up: ``model`` (config, results, names), ``ipam`` (addresses), ``netns``
(namespaces via ``unshare``/``setns``, no ``ip``), ``links`` (netlink), ``host`` and ``envs``
(what is built, on the ``worker`` thread), ``ruleset`` (nftables), ``resolv``/``dns``,
``network`` (the :class:`Network` facade), ``fake`` (:class:`FakeNetwork` for tests above),
``shaping`` (bandwidth caps with tc) and ``egress`` (organization allow-lists).
"""

from roost.runner.network.fake import FakeNetwork
from roost.runner.network.model import EnvNetwork, NetworkConfig, NetworkDriver, NetworkError
from roost.runner.network.network import Network
from roost.runner.network.shaping import Caps

__all__ = [
    "Caps",
    "EnvNetwork",
    "FakeNetwork",
    "Network",
    "NetworkConfig",
    "NetworkDriver",
    "NetworkError",
]
