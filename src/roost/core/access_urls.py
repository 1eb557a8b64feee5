"""Addresses of proxied ports, shared by the plane (login links) and the runners (endpoints).

Two forms for port ``P`` of environment ``E`` on a runner whose access URL is
``http://runner:8081`` and whose proxy domain is ``D``:

* host form ``http://P-E.D:8081/``: one origin per port, so one port's pages cannot read
  another's cookies or responses; needs wildcard DNS for ``*.D`` (``*.localhost`` resolves to
  the loopback address in browsers, which is the default for a local runner);
* path form ``http://runner:8081/p/E/P/``: works without DNS, but every port shares the runner's
  origin, and applications that build absolute links break unless they honour
  ``X-Forwarded-Prefix``.
"""

import ipaddress
import re
from urllib.parse import urlsplit

_HOST_LABEL = re.compile(r"^(\d{1,5})-([0-9a-z]{20})$")


def default_domain(access_url: str) -> str:
    """The proxy domain when none is configured: ``localhost`` for a loopback or bare-address
    runner (browsers resolve ``*.localhost`` to loopback), else the access URL's host name."""
    host = urlsplit(access_url).hostname or "localhost"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return "localhost"


def host_url(access_url: str, domain: str, env_id: str, port: int) -> str:
    parts = urlsplit(access_url)
    suffix = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{port}-{env_id}.{domain}{suffix}/"


def path_url(access_url: str, env_id: str, port: int) -> str:
    return f"{access_url.rstrip('/')}/p/{env_id}/{port}/"


def parse_host(host: str, domain: str) -> tuple[str, int] | None:
    """``(env_id, port)`` from a Host header of the host form, else ``None``."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    suffix = "." + domain.lower()
    if not name.endswith(suffix):
        return None
    match = _HOST_LABEL.fullmatch(name[: -len(suffix)])
    if match is None or not 1 <= int(match.group(1)) <= 65535:
        return None
    return match.group(2), int(match.group(1))
