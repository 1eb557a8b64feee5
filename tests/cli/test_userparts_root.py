"""Secrets, dotfiles settings and automations through the CLI against ``roost up`` (root):
``roost secret set | list | delete``, ``roost user dotfiles set``, ``roost whoami``,
``roost env automations | task run | service stop | logs``."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.support.images import debian_base
from tests.support.live import run_cli
from tests.support.repos import reachable
from tests.support.up import roost_up

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
    return reachable(repo)


def cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> str:
    result = run_cli(*args, env=env, stdin=stdin, timeout=120)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


async def test_secrets_dotfiles_and_automations_from_the_cli(
    tmp_path: Path, debian_base: Image
) -> None:
    async with roost_up(tmp_path, "10.217.3.0/24") as up:
        env = up.env
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
