"""Network policy and bandwidth on a real runner: who reaches whom, egress allow-lists changed
live, and caps measured (root).

"Outside" is a network namespace of the test's own behind the host (``outside``): reaching it
goes through the host's forward path and NAT exactly like the internet would, without
depending on it. It also answers on 169.254.169.254, with a host route to it, so that the
metadata address would be reachable if the runner did not block it.
"""

import asyncio
import contextlib
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.runner.resources.conftest import applied, create, make_class, sh
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, free_subnet

pytestmark = pytest.mark.root
METADATA = "169.254.169.254"
SERVE = """
import socket, sys, threading
def serve(address):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, 80)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(b"hello from " + address.encode() + b"\\n"); c.close()
for a in sys.argv[1:]:
    threading.Thread(target=serve, args=(a,), daemon=True).start()
threading.Event().wait()
"""


@dataclass
class Outside:
    allowed: str
    denied: str


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def capture(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def outside() -> Iterator[Outside]:
    tag = secrets.token_hex(3)
    ns, host_if = f"rtout{tag}", f"rto{tag}"
    net = free_subnet(219).rsplit(".", 1)[0]
    addresses = [f"{net}.2", f"{net}.3", METADATA]
    server = None
    try:
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "addr", "add", f"{net}.1/24", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        for address in addresses:
            prefix = "32" if address == METADATA else "24"
            _run("ip", "-n", ns, "addr", "add", f"{address}/{prefix}", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", ns, "route", "add", "default", "via", f"{net}.1")
        _run("ip", "route", "add", f"{METADATA}/32", "via", f"{net}.2", "dev", host_if)
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", SERVE, *addresses]
        )
        time.sleep(0.5)
        yield Outside(allowed=f"{net}.2", denied=f"{net}.3")
    finally:
        if server is not None:
            server.kill()
            server.wait()
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("ip", "route", "del", f"{METADATA}/32", "dev", host_if)
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("ip", "link", "del", host_if)
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("ip", "netns", "del", ns)


def host_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("198.51.100.1", 9))  # no packet is sent: only the route is looked up
        return str(s.getsockname()[0])


async def address_of(plane: PlaneHarness, env_id: str) -> str:
    _, out, _ = await sh(plane, env_id, "ip -4 -o addr show eth0")
    return out.split()[3].split("/")[0]


async def reaches(plane: PlaneHarness, env_id: str, address: str, port: int) -> bool:
    code, _, _ = await sh(plane, env_id, f"nc -w 2 {address} {port} </dev/null >/dev/null")
    return code == 0


async def test_reachability_matrix(
    plane: PlaneHarness, runner: RealRunner, outside: Outside
) -> None:
    envs = [await create(plane) for _ in range(3)]
    addresses = {env: await address_of(plane, env) for env in envs}
    for env in envs:
        code, _, err = await sh(plane, env, "echo hi > /tmp/i && httpd -p 8000 -h /tmp")
        assert code == 0, err
    with socket.socket() as listener:  # a host service on every address
        listener.bind(("0.0.0.0", 0))  # noqa: S104
        listener.listen(64)
        port = listener.getsockname()[1]
        gateway = runner.config.subnet.rsplit(".", 1)[0] + ".1"
        access_port = int(runner.config.access_listen.rsplit(":", 1)[1])
        targets = {
            "host via gateway": (gateway, port),
            "host address": (host_address(), port),
            "runner API": (gateway, access_port),
            "metadata": (METADATA, 80),
            "outside": (outside.allowed, 80),
        }
        seen: dict[tuple[str, str], bool] = {}
        expected: dict[tuple[str, str], bool] = {}
        for env in envs:
            for other in envs:
                name = "itself" if other == env else f"env {other[-4:]}"
                seen[env, name] = await reaches(plane, env, addresses[other], 8000)
                expected[env, name] = other == env
            for name, (address, target_port) in targets.items():
                seen[env, name] = await reaches(plane, env, address, target_port)
                expected[env, name] = name == "outside"
    assert seen == expected


async def test_egress_allow_list_changes_live(
    plane: PlaneHarness, runner: RealRunner, outside: Outside
) -> None:
    env_id = await create(plane)
    assert await reaches(plane, env_id, outside.denied, 80)

    async def policy(allow: list[str] | None) -> None:
        r = await plane.admin.patch(
            "/api/v1/organizations/default", json={"policy": {"egress_allow": allow}}
        )
        assert r.status_code == 200, r.text
        env = (await plane.admin.get(f"/api/v1/environments/{env_id}")).json()
        assert env["spec"]["egress_allow"] == allow
        await applied(plane, env_id, env["spec"]["spec_version"])

    await policy([f"{outside.allowed}/32"])
    assert await reaches(plane, env_id, outside.allowed, 80)
    started = time.perf_counter()
    assert not await reaches(plane, env_id, outside.denied, 80)
    assert time.perf_counter() - started < 1.5  # rejected, not left to time out
    assert not await reaches(plane, env_id, METADATA, 80)  # the host's blocks stay
    netns = runner.assembly.network.config.netns_path(env_id).name
    assert "@allow" in capture(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                                "roost_egress"])  # fmt: skip
    await policy([])
    assert not await reaches(plane, env_id, outside.allowed, 80)
    await policy(None)
    assert await reaches(plane, env_id, outside.denied, 80)
    fresh = await create(plane)  # a new environment gets the current (open) policy
    assert await reaches(plane, fresh, outside.allowed, 80)


async def _download(address: str, port: int, size: int) -> float:
    """Host -> environment: send ``size`` bytes, return the rate in Mbit/s as received."""
    reader, writer = await asyncio.open_connection(address, port)
    chunk = b"\0" * (1 << 16)
    started = time.perf_counter()
    for _ in range(size // len(chunk)):
        writer.write(chunk)
        await writer.drain()
    writer.write_eof()
    await reader.read()  # the receiver closes once it has read everything
    seconds = time.perf_counter() - started
    writer.close()
    return size * 8 / seconds / 1e6


async def _upload(address: str, port: int, size: int) -> float:
    """Environment -> host: receive ``size`` bytes, return the rate in Mbit/s."""
    reader, writer = await asyncio.open_connection(address, port)
    first = await reader.read(1 << 16)
    started, got = time.perf_counter(), len(first)
    while got < size:
        data = await reader.read(1 << 16)
        if not data:
            break
        got += len(data)
    seconds = time.perf_counter() - started
    writer.close()
    return got * 8 / seconds / 1e6


async def test_bandwidth_caps_hold_within_ten_percent(
    plane: PlaneHarness, runner: RealRunner
) -> None:
    await make_class(plane, "capped", upload_mbit=40, download_mbit=80, cpu=1)
    env_id = await create(plane, **{"class": "capped"})
    address = await address_of(plane, env_id)
    await sh(plane, env_id, "(nc -l -p 5001 >/dev/null 2>&1 &); sleep 0.2")
    down = await _download(address, 5001, 30 << 20)
    size = 20 << 20
    await sh(
        plane, env_id,
        f"dd if=/dev/zero of=/tmp/blob bs=1M count={size >> 20} 2>/dev/null; "
        "(nc -l -p 5002 </tmp/blob >/dev/null 2>&1 &); sleep 0.2",
    )  # fmt: skip
    up = await _upload(address, 5002, size)
    assert down == pytest.approx(80, rel=0.10), down
    assert up == pytest.approx(40, rel=0.10), up
    network = runner.assembly.network.config
    show = ["tc", "qdisc", "show", "dev"]
    assert "tbf" in capture([*show, network.host_veth(env_id)])
    code, _, _ = await sh(plane, env_id, "tc qdisc del dev eth0 root")
    assert code != 0  # root inside has no CAP_NET_ADMIN over its netns
    assert "tbf" in capture(["ip", "netns", "exec", network.netns_path(env_id).name, *show, "eth0"])
    print(f"download {down:.1f} Mbit/s (cap 80), upload {up:.1f} Mbit/s (cap 40)")
