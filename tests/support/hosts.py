"""Several runner "hosts" on one machine: each ``roost runner`` process in a network namespace
of its own, reaching the plane over a veth on a test bridge, as separate machines would over a
LAN. Names, subnets and cgroups are per test; everything is removed afterwards."""

import contextlib
import ipaddress
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.runner import free_subnet


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=30)


@dataclass
class Host:
    name: str
    netns: str
    address: str
    cgroup_parent: str
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Lan:
    """A bridge on the host with the plane's address on it."""

    tag: str
    bridge: str
    network: ipaddress.IPv4Network

    @property
    def plane_address(self) -> str:
        return str(self.network.network_address + 1)


@contextlib.contextmanager
def lan() -> Iterator[Lan]:
    tag = secrets.token_hex(3)
    net = Lan(tag=tag, bridge=f"rlb{tag}", network=ipaddress.ip_network(free_subnet(221)))
    ip("link", "add", net.bridge, "type", "bridge")
    try:
        ip("addr", "add", f"{net.plane_address}/{net.network.prefixlen}", "dev", net.bridge)
        ip("link", "set", net.bridge, "up")
        yield net
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "del", net.bridge)


@contextlib.contextmanager
def host(net: Lan, index: int) -> Iterator[Host]:
    """A network namespace wired to ``net``, its default route through the plane's address."""
    name = f"h{index}"
    h = Host(
        name=name,
        netns=f"rln{net.tag}{index}",
        address=str(net.network.network_address + 10 + index),
        cgroup_parent=f"roost-test-{net.tag}-{index}",
    )
    outside, inside = f"rlv{net.tag}{index}", f"rli{net.tag}{index}"
    ip("netns", "add", h.netns)
    try:
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", outside, "master", net.bridge, "up")
        ip("link", "set", inside, "netns", h.netns)
        ns = ("-n", h.netns)
        ip(*ns, "addr", "add", f"{h.address}/{net.network.prefixlen}", "dev", inside)
        ip(*ns, "link", "set", inside, "up")
        ip(*ns, "link", "set", "lo", "up")
        ip(*ns, "route", "add", "default", "via", net.plane_address)
        yield h
    finally:
        stop(h)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "del", outside)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("netns", "del", h.netns)
        for d in sorted(Path("/sys/fs/cgroup").glob(f"**/{h.cgroup_parent}"), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()


def start_runner(h: Host, server: str, token: str, work: Path, region: str, *args: str) -> None:
    data = work / h.name
    data.mkdir(parents=True)
    tag = h.netns[-7:]
    argv = [
        # nsenter, not `ip netns exec`: that remounts /sys, hiding the host's cgroup tree
        "nsenter", f"--net=/run/netns/{h.netns}", sys.executable, "-m", "roost", "runner",
        "--server", server, "--token", token, "--name", h.name, "--region", region,
        "--data-dir", str(data), "--access-listen", f"{h.address}:8081",
        "--ssh-listen", "off", "--bridge", f"rbr{tag}", "--subnet", free_subnet(222),
        "--nft-table", f"roosth{tag}", "--cgroup-parent", h.cgroup_parent,
        "--ids-dir", str(work / "ids"), "--images-dir", str(work / "images"),
        "--backup-repository", str(work / "backups"), "--no-disk-quotas", *args,
    ]  # fmt: skip
    with (work / f"{h.name}.log").open("wb") as out:
        h.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def stop(h: Host) -> None:
    if h.process is None or h.process.poll() is not None:
        return
    h.process.send_signal(signal.SIGTERM)
    try:
        h.process.wait(15)
    except subprocess.TimeoutExpired:
        h.process.kill()
        h.process.wait()


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
