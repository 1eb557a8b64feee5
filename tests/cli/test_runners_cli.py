"""``roost env move``, ``roost runner drain | lost``, ``roost org restore-lost`` as a user runs
them against a real ``roost server``: what they do and why they refuse."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, live_server, run_cli
from tests.support.threaded_runner import ThreadedFakeRunner


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("plane")) as s:
        yield s


def test_move_drain_lost_and_the_policy(server: LiveServer, tmp_path: Path) -> None:
    env = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
           "ROOST_CONFIG": str(tmp_path / "c.json")}  # fmt: skip
    with (
        ThreadedFakeRunner(server.url, server.admin_token, name="cli-a"),
        ThreadedFakeRunner(server.url, server.admin_token, name="cli-b"),
    ):
        made = run_cli("env", "create", "--runner", "cli-a", "--wait", "-o", "json", env=env)
        assert made.returncode == 0, made.stderr
        env_id = json.loads(made.stdout)["metadata"]["id"]

        moved = run_cli("env", "move", env_id, "--runner", "nowhere", env=env)
        assert moved.returncode == 1 and "runner 'nowhere' not found" in moved.stderr
        moved = run_cli("env", "start", env_id, "--runner", "cli-b", env=env)
        assert moved.returncode == 1 and "keeps no backups" in moved.stderr  # said, not ignored

        lost = run_cli("runner", "lost", "cli-a", env=env)
        assert lost.returncode == 1 and "drain it" in lost.stderr
        drained = run_cli("runner", "drain", "cli-a", env=env)
        assert drained.returncode == 0, drained.stderr
        assert f"cannot move {env_id}: " in drained.stdout and "keeps no backups" in drained.stdout
        listed = run_cli("runner", "list", env=env)
        assert "online,draining" in listed.stdout
        assert run_cli("runner", "drain", "cli-a", "--undo", env=env).returncode == 0

    policy = run_cli("org", "restore-lost", "default", "10m", env=env)
    assert policy.returncode == 0 and "after 600 s" in policy.stdout, policy.stderr
