"""Helpers for the root tests: run things inside an env's netns, listen, and clean up.

Tests may spawn ``ip``, ``nft`` and ``python3`` freely (the code under test may not), and the
cleanup here deliberately uses those tools rather than the code under test.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from roost.runner.network import Network, NetworkConfig
from roost.runner.network.netns import entered

MakeConfig = Callable[..., NetworkConfig]
"""The ``make_config`` fixture: ``make_config(second_octet=212, **overrides)``."""

AS_CONTAINER_ROOT = [
    "setpriv", "--reuid=100000", "--regid=100000", "--clear-groups",
    "unshare", "--user", "--map-root-user", "--",
]  # fmt: skip
"""Like a container's root: uid 0 in a new user namespace, host uid 100000."""

PROBE = """
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("ok")
except TimeoutError:
    print("timeout")
except OSError as exc:
    print(errno.errorcode.get(exc.errno, str(exc)))
"""

HTTP_HEAD = """
import socket, sys
with socket.create_connection((sys.argv[1], 80), timeout=10) as s:
    s.sendall(b"HEAD / HTTP/1.0\\r\\nHost: " + sys.argv[1].encode() + b"\\r\\n\\r\\n")
    print(s.recv(128).split(b"\\r\\n")[0].decode())
"""


def run(*argv: str) -> str:
    """Run a host tool (tests only), fail on error, return its stdout."""
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


def in_netns(netns: str, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def probe(netns: str, host: str, port: int, timeout: float = 2.0) -> str:
    """ "ok", "timeout", or the errno name of a TCP connect from inside ``netns``."""
    result = in_netns(netns, [sys.executable, "-c", PROBE, host, str(port), str(timeout)])
    return result.stdout.strip() or result.stderr.strip()


def listen(host: str) -> socket.socket:
    """A TCP listener; connects succeed on the backlog even without accept()."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(16)
    return sock


def listen_in(netns_path: Path, host: str) -> socket.socket:
    """A listener created inside a netns (call from a worker thread: setns is per thread)."""
    with entered(netns_path):
        return listen(host)


def host_main_ip() -> str:
    """The source address of the host's default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("1.1.1.1", 53))
        return str(sock.getsockname()[0])


def _quietly(*argv: str) -> None:
    subprocess.run(list(argv), capture_output=True, check=False)


def sweep(config: NetworkConfig) -> None:
    """Remove whatever a test's runner may have left, even if the code under test is broken."""
    netns_dir = Path("/run/netns")
    names = os.listdir(netns_dir) if netns_dir.exists() else []
    claims = config.state_dir / "addresses"
    env_ids = [p.read_text() for p in claims.iterdir()] if claims.exists() else []
    for name in names:
        if name.startswith(config.netns_prefix):
            _quietly("ip", "netns", "del", name)
            with contextlib.suppress(FileNotFoundError):
                (netns_dir / name).unlink()  # an unmounted placeholder
    etc_netns = Path("/etc/netns")  # per-netns files for `ip netns exec` (resolv.conf)
    for path in etc_netns.glob(f"{config.netns_prefix}*"):
        shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        etc_netns.rmdir()  # only if empty
    for env_id in env_ids:
        _quietly("ip", "link", "del", config.host_veth(env_id))
    _quietly("ip", "link", "del", config.bridge)
    _quietly("nft", "delete", "table", "inet", config.nft_table)


@contextlib.asynccontextmanager
async def managed(config: NetworkConfig) -> AsyncIterator[Network]:
    """setup_host; afterwards delete every env, teardown_host, close, and sweep leftovers."""
    net = Network(config)
    try:
        await net.setup_host()
        yield net
    finally:
        try:
            for env_id in net.list():
                await net.delete(env_id)
            await net.teardown_host()
        finally:
            await net.close()
            sweep(config)
