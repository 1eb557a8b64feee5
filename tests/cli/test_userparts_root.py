"""Secrets, dotfiles settings and automations through the CLI against ``roost up`` (root):
``roost secret set | list | delete``, ``roost user dotfiles set``, ``roost whoami``,
``roost env automations | task run | service stop | logs``."""

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.support.images import CACHE_DIR, debian_base
from tests.support.live import free_port, run_cli, wait_http
from tests.support.runner import scrub_host

__all__ = ["debian_base"]
pytestmark = [pytest.mark.root, pytest.mark.slow]

AUTOMATIONS = """\
services:
  web:
    name: Web
    triggeredBy: [postEnvironmentStart]
    commands:
      start: "touch /tmp/up; exec sleep 600"
      ready: "test -e /tmp/up"
tasks:
  hello:
    name: Hello
    command: "echo hello from $TOKEN"
  broken:
    name: Broken
    command: "echo about to fail; exit 4"
"""


def make_repo(root: Path) -> Path:
    repo = root / "app"
    (repo / ".roost").mkdir(parents=True)
    (repo / ".roost" / "automations.yaml").write_text(AUTOMATIONS)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(root), "PATH": "/usr/bin:/bin"}  # fmt: skip
    for argv in (["init", "-qb", "main"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True)
    return repo


def cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> str:
    result = run_cli(*args, env=env, stdin=stdin, timeout=120)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


async def test_secrets_dotfiles_and_automations_from_the_cli(
    tmp_path: Path, debian_base: Image
) -> None:
    tag = secrets.token_hex(3)
    data = tmp_path / "roost"
    port = free_port()
    names = {"nft_table": f"ru{tag}", "bridge": f"rub{tag}", "subnet": "10.217.3.0/24",
             "cgroup_parent": f"roost-test-{tag}"}  # fmt: skip
    argv = [
        sys.executable, "-m", "roost", "up", "--data-dir", str(data),
        "--listen", f"127.0.0.1:{port}",
        "--images-dir", str(CACHE_DIR / "images"), "--ids-dir", str(tmp_path / "ids"),
        "--nft-table", names["nft_table"], "--bridge", names["bridge"],
        "--subnet", names["subnet"], "--cgroup-parent", names["cgroup_parent"],
    ]  # fmt: skip
    env = {"ROOST_CONFIG": str(tmp_path / "cli.json")}
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            env={**env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        deadline = time.monotonic() + 30
        while not (tmp_path / "cli.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        out = cli("secret", "set", "TOKEN", env=env, stdin=b"sup3rs3cret\n")
        assert "TOKEN" in out and "sup3rs3cret" not in out
        listed = json.loads(cli("secret", "list", "-o", "json", env=env))
        assert [s["name"] for s in listed] == ["TOKEN"] and "sup3rs3cret" not in str(listed)
        cli("user", "dotfiles", "set", "https://git.example/me/dotfiles", env=env)
        assert "https://git.example/me/dotfiles" in cli("whoami", env=env)
        cli("user", "dotfiles", "clear", env=env)

        created = cli("env", "create", str(make_repo(tmp_path)), "--wait", "-o", "json", env=env)
        env_id = json.loads(created)["metadata"]["id"]
        assert cli("env", "exec", env_id, "--", "sh", "-c", "echo $TOKEN", env=env) == (
            "sup3rs3cret\n"
        )
        for _ in range(100):
            doc = json.loads(cli("env", "automations", env_id, "-o", "json", env=env))
            if doc["services"][0]["phase"] == "ready":
                break
            time.sleep(0.1)
        assert doc["services"][0]["phase"] == "ready"
        table = cli("env", "automations", env_id, env=env)
        assert "web" in table and "ready" in table and "hello" in table

        ran = run_cli("env", "task", "run", env_id, "hello", env=env)
        assert ran.returncode == 0, ran.stderr
        assert "hello from sup3rs3cret" in ran.stdout and "succeeded" in ran.stderr
        broken = run_cli("env", "task", "run", env_id, "broken", env=env)
        assert broken.returncode == 1 and "about to fail" in broken.stdout
        assert "failed" in broken.stderr

        assert "stopped" in cli("env", "service", "stop", env_id, "web", env=env)
        assert "task-hello" in cli("env", "logs", env_id, env=env)
        assert "about to fail" in cli("env", "logs", env_id, "--step", "broken", env=env)
        missing = run_cli("env", "logs", env_id, "--step", "nope", env=env)
        assert missing.returncode == 1 and "no log 'nope'" in missing.stderr

        cli("secret", "delete", "TOKEN", env=env)
        assert json.loads(cli("secret", "list", "-o", "json", env=env)) == []
        cli("env", "delete", env_id, "--wait", env=env)
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        await scrub_host(data / "runner", **names)
