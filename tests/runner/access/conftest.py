"""Fixtures for the access tests: SSH key pairs, a real runner with its SSH gateway, and the
stock OpenSSH client pointed at it (``ssh -F /dev/null``: nothing of this host's config)."""

import asyncio
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.runner.conftest import shared_image_store
from tests.support.live import free_port
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, free_subnet, real_runner, wait_phase


@dataclass
class KeyPair:
    private: Path

    @property
    def public(self) -> str:
        return self.private.with_suffix(".pub").read_text().strip()


def keypair(directory: Path, name: str) -> KeyPair:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
    )
    return KeyPair(path)


async def add_key(client: httpx.AsyncClient, key: KeyPair) -> dict[str, object]:
    r = await client.post("/api/v1/ssh-keys", json={"public_key": key.public})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@dataclass
class SshTarget:
    """How to reach a runner's gateway with the stock client."""

    port: int
    known_hosts: Path

    def argv(self, key: KeyPair, user: str, *extra: str, tool: str = "ssh") -> list[str]:
        port_flag = "-P" if tool in ("scp", "sftp") else "-p"
        options = [
            "-F",
            "/dev/null",
            port_flag,
            str(self.port),
            "-i",
            str(key.private),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
        ]
        if tool == "ssh":
            return ["ssh", *options, f"{user}@127.0.0.1", *extra]
        return [tool, *options, *extra]


async def ssh_target(plane: PlaneHarness, runner: RealRunner, tmp: Path) -> SshTarget:
    """The gateway's address and a known_hosts file with the host key the runner published."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        doc = (await plane.admin.get(f"/api/v1/runners/{runner.id}")).json()
        if doc.get("ssh_host_key"):
            break
        assert asyncio.get_running_loop().time() < deadline, doc
        await asyncio.sleep(0.2)
    host, port = doc["ssh_address"].rsplit(":", 1)
    known = tmp / "known_hosts"
    known.write_text(f"[{host}]:{port} {doc['ssh_host_key']}\n")
    return SshTarget(int(port), known)


@pytest.fixture
async def ssh_runner(plane: PlaneHarness, tmp_path: Path) -> AsyncIterator[RealRunner]:
    overrides = {
        "ssh_listen": f"127.0.0.1:{free_port()}",
        "subnet": free_subnet(219),
        "activity_report_seconds": 0.5,
    }
    async with real_runner(plane, tmp_path, shared_image_store(), **overrides) as r:
        yield r


async def create_env(
    plane: PlaneHarness, client: httpx.AsyncClient, image: str, **spec: object
) -> str:
    r = await client.post("/api/v1/environments", json={"spec": {"image": image, **spec}})
    assert r.status_code == 201, r.text
    env_id = str(r.json()["metadata"]["id"])
    await wait_phase(plane, env_id, "running", timeout=120)
    return env_id


async def run(argv: list[str], stdin: bytes = b"", timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
