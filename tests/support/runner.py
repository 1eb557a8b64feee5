"""A real runner for integration tests (root): crun, idmapped mounts, netns, nftables.

It runs in the test's event loop and talks to the in-process plane through ASGI, so a test can
drive both. Everything it creates is named for the test (bridge, nft table, subnet, cgroup
parent, uid-range directory) and removed afterwards, even when the test fails.
"""

import asyncio
import contextlib
import ipaddress
import random
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from roost.runner.agent import Agent
from roost.runner.assembly import Assembly
from roost.runner.config import RunnerConfig
from roost.runner.images import ImageStore
from tests.support.live import free_port
from tests.support.plane import PlaneHarness
from tests.support.repos import open_dir


def free_subnet(second_octet: int = 214) -> str:
    """A 10.<second_octet>.x.0/24 that overlaps no route on this host: test processes run side
    by side, and each suite keeps to its own second octet."""
    routes = []
    for line in Path("/proc/net/route").read_text().splitlines()[1:]:
        dest, mask = (int(x, 16).to_bytes(4, "little") for x in line.split()[1:8:6])
        net = ipaddress.ip_network((ipaddress.IPv4Address(dest), str(ipaddress.IPv4Address(mask))))
        if net.prefixlen:  # not the default route
            routes.append(net)
    for third in random.sample(range(1, 255), 254):
        candidate = ipaddress.ip_network(f"10.{second_octet}.{third}.0/24")
        if not any(candidate.overlaps(r) for r in routes):
            return str(candidate)
    raise RuntimeError(f"no free 10.{second_octet}.x.0/24 subnet")


@dataclass
class RealRunner:
    agent: Agent
    assembly: Assembly
    config: RunnerConfig
    task: asyncio.Task[None]

    @property
    def id(self) -> str:
        return self.agent.runner_id


async def registration_token(plane: PlaneHarness) -> str:
    r = await plane.admin.post("/api/v1/runners/registration-tokens", json={})
    return str(r.json()["secret"])


def runner_config(tmp: Path, name: str, token: str | None, **overrides: Any) -> RunnerConfig:
    tag = secrets.token_hex(3)
    values: dict[str, Any] = {
        "server_url": "http://plane",
        "data_dir": open_dir("roost-test-runner-") / f"runner-{name}",  # reachable: repos.py
        "name": name,
        "registration_token": token,
        "access_listen": f"127.0.0.1:{free_port()}",
        "ids_dir": tmp / "ids",
        "backup_repository": str(tmp / "backups"),
        "cgroup_parent": f"roost-test-{tag}",
        "bridge": f"rtb{tag}",
        "subnet": free_subnet(),
        "nft_table": f"roosttest{tag}",
        "heartbeat_seconds": 1.0,
        "resync_seconds": 5.0,
    }
    values.update(overrides)
    return RunnerConfig(**values)


@asynccontextmanager
async def real_runner(
    plane: PlaneHarness, tmp: Path, images: ImageStore, name: str = "real", **overrides: Any
) -> AsyncIterator[RealRunner]:
    config = runner_config(tmp, name, await registration_token(plane), **overrides)
    assembly = await asyncio.to_thread(Assembly.create, config, images)
    agent = Agent(config, assembly, httpx.ASGITransport(app=plane.app))
    task = asyncio.create_task(agent.run())
    runner = RealRunner(agent, assembly, config, task)
    try:
        ready = asyncio.create_task(agent.ready.wait())
        await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # the runner died while starting: show why
        if not agent.ready.is_set():
            raise TimeoutError("the runner did not get ready in 30 s")
        yield runner
    finally:
        await cleanup(runner)


async def cleanup(runner: RealRunner) -> None:
    runner.task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await runner.task
    a = runner.assembly
    for driver in (a.driver, *([a.sandbox] if a.sandbox is not None else [])):
        for env_id in await driver.list():  # every runtime's: mounts, disks, cgroups
            with contextlib.suppress(Exception):
                await driver.delete(env_id)
    await asyncio.to_thread(_scrub_nested_netns, a.network.config.netns_prefix)
    for env_id in a.network.list():
        with contextlib.suppress(Exception):
            await a.network.delete(env_id)
    with contextlib.suppress(Exception):
        await a.network.teardown_host()
    await a.close()
    for controller_dir in Path("/sys/fs/cgroup").glob(f"*/{runner.config.cgroup_parent}"):
        with contextlib.suppress(OSError):
            controller_dir.rmdir()
    with contextlib.suppress(OSError):
        Path(f"/sys/fs/cgroup/{runner.config.cgroup_parent}").rmdir()
    shutil.rmtree(runner.config.data_dir, ignore_errors=True)


async def wait_phase(
    plane: PlaneHarness, env_id: str, phase: str, timeout: float = 60
) -> dict[str, Any]:
    """Poll (driving the plane's controllers) until the environment reaches ``phase``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await plane.admin.get(f"/api/v1/environments/{env_id}")
        doc: dict[str, Any] = r.json() if r.status_code == 200 else {}
        if (doc and doc["status"]["phase"] == phase) or (not doc and phase == "gone"):
            return doc
        if doc and doc["status"]["phase"] == "failed" and phase != "failed":
            raise AssertionError(f"environment failed: {doc['status']['message']}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {phase}: {r.text}")
        await plane.schedule()
        await plane.lifecycle()
        await asyncio.sleep(0.05)


async def run_in(
    plane: PlaneHarness, client: httpx.AsyncClient, env_id: str, *argv: str, stdin: bytes = b""
) -> tuple[int, str, str]:
    """``roost env exec`` by hand: get a ticket from the plane, stream through the runner."""
    return await exec_stream(client, env_id, {"argv": list(argv)}, stdin)


async def exec_stream(
    client: httpx.AsyncClient, env_id: str, request: dict[str, Any], stdin: bytes = b""
) -> tuple[int, str, str]:
    """One exec ``request`` (argv, user...) through a ticket: (exit code, stdout, stderr)."""
    r = await client.post(f"/api/v1/environments/{env_id}/exec")
    assert r.status_code == 200, r.text
    ticket = r.json()
    out, err = bytearray(), bytearray()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        headers = {"Authorization": f"Bearer {ticket['ticket']}"}
        async with session.ws_connect(ticket["url"], headers=headers) as ws:
            await ws.send_json(request)
            if stdin:
                await ws.send_bytes(stdin)
            await ws.send_json({"eof": True})
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    (out if msg.data[0] == 1 else err).extend(msg.data[1:])
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    doc = msg.json()
                    if "exit" in doc:
                        return int(doc["exit"]), out.decode(), err.decode()
                    raise AssertionError(doc)
    raise AssertionError("stream closed without an exit status")


def _scrub_nested_netns(prefix: str) -> None:
    """Inner namespaces of nested-mode environments (``runner/nested/netwire.py``)."""
    from roost.runner.nested import netwire
    from roost.runner.network import netns

    for path in netwire.INNER_DIR.glob(f"{prefix}*") if netwire.INNER_DIR.is_dir() else []:
        with contextlib.suppress(OSError):
            netns.remove(path)


async def scrub_host(
    data_dir: Path, nft_table: str, bridge: str, subnet: str, cgroup_parent: str
) -> None:
    """Remove what a runner *process* left on this host (it leaves environments running on
    purpose): containers, mounts, network namespaces, the bridge and table, cgroups."""
    from roost.runner.network import Network, NetworkConfig
    from roost.runner.runtime.container import mounts
    from roost.runner.runtime.container.crun import Crun

    crun = Crun(data_dir / "envs" / ".crun")
    for name in crun.names():
        with contextlib.suppress(Exception):
            await crun.kill(name, "KILL")
        with contextlib.suppress(Exception):
            await crun.delete(name)
    for point in mounts.mountpoints_under(data_dir):
        with contextlib.suppress(OSError):
            mounts.umount(point)
    config = NetworkConfig(
        bridge=bridge, subnet=subnet, nft_table=nft_table, netns_prefix=f"{nft_table}-",
        state_dir=data_dir / "network",
    )  # fmt: skip
    net = Network(config)
    await asyncio.to_thread(_scrub_nested_netns, f"{nft_table}-")
    for env_id in net.list():
        with contextlib.suppress(Exception):
            await net.delete(env_id)
    with contextlib.suppress(Exception):
        await net.teardown_host()
    await net.close()
    for controller_dir in Path("/sys/fs/cgroup").glob(f"*/{cgroup_parent}"):
        for child in controller_dir.iterdir():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            controller_dir.rmdir()
