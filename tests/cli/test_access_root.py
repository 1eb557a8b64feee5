"""The access issue's "done when", as a user does it (root): ``roost up``; add a key; ``roost
config-ssh``; the stock ``ssh <name>.roost`` lands in a shell inside the environment; forward a
port; ``roost env ssh``; open a port at an admission and reach it through the proxy."""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.runner.images import Image
from tests.support.images import debian_base
from tests.support.live import free_port, run_cli
from tests.support.runner import free_subnet
from tests.support.up import roost_up

__all__ = ["debian_base"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An ssh-agent holding a fresh key, as a user's desktop has."""
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        env = {"SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(key)], env={**os.environ, **env}, check=True)
        yield {**env, "KEY": str(key)}
    finally:
        proc.terminate()
        proc.wait(10)


def ssh(config: Path, agent: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-F", str(config), "-o", "BatchMode=yes", *args],
        env={**os.environ, "SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_ssh_and_ports_as_a_user_does(
    tmp_path: Path, debian_base: Image, agent: dict[str, str]
) -> None:
    extra = ("--ssh-listen", f"127.0.0.1:{free_port()}")
    async with roost_up(
        tmp_path, free_subnet(219), *extra, env={"SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"]}
    ) as up:
        await _scenario(tmp_path, up.env, agent)


def _cli(env: dict[str, str], *args: str) -> dict:  # type: ignore[type-arg]
    result = run_cli(*args, "-o", "json", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


async def _scenario(tmp: Path, env: dict[str, str], agent: dict[str, str]) -> None:
    key = _cli(env, "ssh-key", "add", agent["KEY"] + ".pub")
    assert key["fingerprint"].startswith("SHA256:")
    created = _cli(env, "env", "create", "--name", "dev", "--wait", "--timeout", "150")
    env_id = created["metadata"]["id"]

    config = tmp / "ssh_config"
    written = _cli(env, "config-ssh", "--ssh-config", str(config))
    assert "dev.roost" in written["hosts"] and f"{env_id}.roost" in written["hosts"]
    shell = ssh(config, agent, "dev.roost", "hostname; id -un; echo $0")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split() == ["dev", "root", "/bin/bash"]
    assert ssh(config, agent, f"{env_id}.roost", "exit 4").returncode == 4

    via_cli = run_cli("env", "ssh", env_id, "--", "echo", "via-roost-env-ssh", env=env)
    assert via_cli.returncode == 0, via_cli.stderr
    assert via_cli.stdout.strip() == "via-roost-env-ssh"

    start = "cd /tmp; python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 </dev/null &"
    assert ssh(config, agent, "dev.roost", start).returncode == 0
    local = free_port()
    forward = subprocess.Popen(
        [
            "ssh",
            "-F",
            str(config),
            "-o",
            "BatchMode=yes",
            "-N",
            "-L",
            f"127.0.0.1:{local}:localhost:8000",
            "dev.roost",
        ],
        env={**os.environ, "SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"]},
    )
    try:
        assert "Directory listing" in await _get(f"http://127.0.0.1:{local}/")
    finally:
        forward.send_signal(signal.SIGTERM)
        forward.wait(10)

    shown = _cli(env, "env", "ports", env_id, "open", "8000", "--admission", "public")
    assert shown[0]["admission"] == "public"
    doc = _cli(env, "env", "get", env_id)
    runner = httpx.URL(_cli(env, "runner", "list")[0]["access_url"])
    host = f"8000-{env_id}.localhost:{runner.port}"
    for _ in range(100):  # the runner publishes the endpoint once it applied the spec
        doc = _cli(env, "env", "get", env_id)
        if doc["status"]["endpoints"]["ports"].get("8000"):
            break
        await asyncio.sleep(0.1)
    assert doc["status"]["endpoints"]["ports"]["8000"] == f"http://{host}/"
    page = await _get(f"http://127.0.0.1:{runner.port}/", headers={"Host": host})
    assert "Directory listing" in page  # public: no credential at all

    _cli(env, "env", "ports", env_id, "open", "8000", "--admission", "owner")
    async with httpx.AsyncClient(timeout=20) as http:
        for _ in range(100):
            r = await http.get(f"http://127.0.0.1:{runner.port}/", headers={"Host": host})
            if r.status_code == 401:
                break
            await asyncio.sleep(0.1)
        assert r.status_code == 401 and "roost env ports" in r.text
    link = _cli(env, "env", "ports", env_id, "login", "8000")["url"]
    async with httpx.AsyncClient(timeout=20) as browser:  # a browser, by hand: *.localhost
        base = f"http://127.0.0.1:{runner.port}"
        r = await browser.get(f"{base}/?{httpx.URL(link).query.decode()}", headers={"Host": host})
        assert r.status_code == 303, r.text
        cookie = r.headers["set-cookie"].split(";")[0]
        r = await browser.get(
            f"{base}{r.headers['location']}", headers={"Host": host, "Cookie": cookie}
        )
        assert r.status_code == 200 and "Directory listing" in r.text


async def _get(url: str, headers: dict[str, str] | None = None) -> str:
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            try:
                r = await http.get(url, headers=headers)
                if r.status_code == 200:
                    return r.text
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no answer"
            await asyncio.sleep(0.2)
