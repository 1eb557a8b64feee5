"""``roost ssh-key``, ``roost config-ssh``, ``roost env ports`` and ``roost env ssh`` against a
real ``roost server`` process."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.cli.commands.ssh import BEGIN, END, merge_block
from tests.support.live import LiveServer, live_server, run_cli

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOQzpq9xKk1lm2xkz7Gt3O3y6gq4JmWbqVbJqVx0Jv3u"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("plane")) as s:
        yield s


@pytest.fixture
def env(server: LiveServer, tmp_path: Path) -> dict[str, str]:
    return {
        "ROOST_URL": server.url,
        "ROOST_TOKEN": server.admin_token,
        "ROOST_CONFIG": str(tmp_path / "cli" / "config.json"),
    }


def roost(env: dict[str, str], *args: str) -> Any:
    result = run_cli(*args, "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ssh_keys(env: dict[str, str], tmp_path: Path) -> None:
    key = tmp_path / "k"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cli@test", "-f", str(key)],
        check=True,
    )
    added = roost(env, "ssh-key", "add", str(key) + ".pub")
    assert added["name"] == "cli@test"
    assert [k["fingerprint"] for k in roost(env, "ssh-key", "list")] == [added["fingerprint"]]
    again = run_cli("ssh-key", "add", "-", env=env, stdin=(tmp_path / "k.pub").read_bytes())
    assert again.returncode == 1 and "you have registered" in again.stderr
    gone = run_cli("ssh-key", "remove", added["fingerprint"], env=env)
    assert gone.returncode == 0, gone.stderr
    assert roost(env, "ssh-key", "list") == []
    missing = run_cli("ssh-key", "add", str(tmp_path / "nope.pub"), env=env)
    assert missing.returncode == 1 and "ssh-keygen" in missing.stderr


def register_runner(server: LiveServer, name: str, info: dict[str, Any]) -> str:
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    reg = httpx.post(
        f"{server.url}/api/v1/runners/registration-tokens", json={}, headers=admin
    ).json()["secret"]
    capacity = {"cpu": 8, "memory_mib": 65536, "disk_gib": 1000, "environments": 50}
    body = {"registration_token": reg, "name": name, "info": {"capacity": capacity, **info}}
    r = httpx.post(f"{server.url}/api/v1/runners/register", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["runner"]["id"])


def test_config_ssh_writes_hosts_and_known_hosts(
    server: LiveServer, env: dict[str, str], tmp_path: Path
) -> None:
    runner_id = register_runner(
        server, "gw", {"ssh_address": "gw.example:2222", "ssh_host_key": HOST_KEY}
    )
    created = roost(env, "env", "create", "--name", "web", "--runner", runner_id)
    env_id = created["metadata"]["id"]
    config = tmp_path / "ssh" / "config"
    config.parent.mkdir()
    config.write_text("Host *\n    User someone\n")
    written = roost(env, "config-ssh", "--ssh-config", str(config))
    assert {"web.roost", f"{env_id}.roost"} <= set(written["hosts"])
    text = config.read_text()
    assert text.startswith(BEGIN)  # first: its values win over the user's Host *
    assert text.endswith("Host *\n    User someone\n")
    resolved = subprocess.run(
        ["ssh", "-G", "-F", str(config), "web.roost"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for line in (
        "hostname gw.example",
        "port 2222",
        f"user {env_id}",
        "hostkeyalias roost-runner.gw",
        "stricthostkeychecking true",
    ):
        assert line in resolved
    known = (tmp_path / "cli" / "known_hosts").read_text()
    assert f"roost-runner.gw {HOST_KEY}\n" in known
    assert config.stat().st_mode & 0o777 == 0o600
    roost(env, "config-ssh", "--ssh-config", str(config))  # again: replaced, not appended
    assert config.read_text().count(BEGIN) == 1


def test_merge_block() -> None:
    block = [BEGIN, "Host a.roost", END]
    assert merge_block("", block) == f"{BEGIN}\nHost a.roost\n{END}\n"
    old = f"Host x\n{BEGIN}\nHost old.roost\n{END}\nHost y\n"
    assert merge_block(old, block) == f"Host x\n{BEGIN}\nHost a.roost\n{END}\nHost y\n"


def test_ports_open_close_and_the_policy(server: LiveServer, env: dict[str, str]) -> None:
    env_id = roost(env, "env", "create", "--name", "ports")["metadata"]["id"]
    assert roost(env, "env", "ports", env_id) == []
    shown = roost(env, "env", "ports", env_id, "open", "3000", "--admission", "organization")
    assert shown == [{"port": 3000, "admission": "organization", "name": "", "url": None}]
    roost(env, "env", "ports", env_id, "open", "8000")
    assert [p["port"] for p in roost(env, "env", "ports", env_id, "close", "3000")] == [8000]
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    httpx.patch(
        f"{server.url}/api/v1/organizations/default",
        headers=admin,
        json={"policy": {"max_port_admission": "organization"}},
    ).raise_for_status()
    try:
        refused = run_cli("env", "ports", env_id, "open", "9000", "--admission", "public", env=env)
        assert refused.returncode == 1
        assert "allows at most organization; use --admission organization" in refused.stderr
    finally:
        httpx.patch(
            f"{server.url}/api/v1/organizations/default", headers=admin, json={"policy": {}}
        ).raise_for_status()


def test_env_ssh_says_what_to_do(env: dict[str, str]) -> None:
    env_id = roost(env, "env", "create", "--name", "nossh")["metadata"]["id"]
    result = run_cli("env", "ssh", env_id, env=env)
    assert result.returncode == 1
    assert f"start it with `roost env start {env_id} --wait`" in result.stderr
    result = run_cli("env", "ssh", "no-such-env", env=env)
    assert result.returncode == 1 and "roost env list" in result.stderr


def test_config_ssh_keeps_stopped_environments_and_names_the_identity(
    server: LiveServer, env: dict[str, str], tmp_path: Path
) -> None:
    register_runner(server, "gw2", {"ssh_address": "gw2.example:2222", "ssh_host_key": HOST_KEY})
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_work"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    user_env = {**env, "HOME": str(home)}
    added = roost(user_env, "ssh-key", "add", str(key) + ".pub")
    asleep = roost(user_env, "env", "create", "--name", "asleep", "--runner", "nowhere")
    config = tmp_path / "ssh_config"
    written = roost(user_env, "config-ssh", "--ssh-config", str(config))
    assert "asleep.roost" in written["hosts"]
    resolved = subprocess.run(
        ["ssh", "-G", "-F", str(config), "asleep.roost"], capture_output=True, text=True,
        check=True,
    ).stdout.splitlines()  # fmt: skip
    proxy = next(line for line in resolved if line.startswith("proxycommand "))
    assert proxy.endswith(f"env ssh-proxy {asleep['metadata']['id']}")
    assert f"identityfile {key}" in resolved and "hostkeyalias roost-runners" in resolved
    known = (tmp_path / "cli" / "known_hosts").read_text()
    assert f"roost-runners {HOST_KEY}\n" in known
    run_cli("ssh-key", "remove", added["fingerprint"], env=user_env)
