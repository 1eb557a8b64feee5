"""The issue's "done when", as a user does it: ``roost up``, create with the default image,
``roost env exec ID -- id`` is root inside and unprivileged outside; stop, start, delete (root)."""

import json
import subprocess
from pathlib import Path

import pytest

from roost.runner.images import Image
from tests.support.images import debian_base
from tests.support.live import run_cli
from tests.support.up import roost_up

__all__ = ["debian_base"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def host_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


async def test_roost_up_gives_a_working_default_environment(
    tmp_path: Path, debian_base: Image
) -> None:
    async with roost_up(tmp_path, "10.214.251.0/24") as up:
        env, data = up.env, up.data
        created = run_cli("env", "create", "--wait", "--timeout", "120", "-o", "json", env=env)
        assert created.returncode == 0, created.stderr + up.log.read_text()[-3000:]
        doc = json.loads(created.stdout)
        env_id = doc["metadata"]["id"]
        assert doc["spec"]["image"] is None  # the default image

        who = run_cli("env", "exec", env_id, "--", "id", env=env)
        assert who.returncode == 0, who.stderr
        assert who.stdout.startswith("uid=0(root) gid=0(root)")
        state = subprocess.run(
            ["crun", "--root", str(data / "runner" / "envs" / ".crun"), "state", env_id],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert host_uid(json.loads(state.stdout)["pid"]) >= 1 << 24  # unprivileged on the host

        status = run_cli("env", "exec", env_id, "--", "bash", "-c", "exit 3", env=env)
        assert status.returncode == 3
        for verb, phase in (("stop", "stopped"), ("start", "running")):
            result = run_cli("env", verb, env_id, "--wait", "-o", "json", env=env)
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["status"]["phase"] == phase
        deleted = run_cli("env", "delete", env_id, "--wait", env=env)
        assert deleted.returncode == 0, deleted.stderr
