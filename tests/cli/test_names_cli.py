"""Environments by name wherever the CLI takes one, and shell completion of their names."""

import json
from pathlib import Path
from typing import Any

import pytest

from roost.cli import envref
from roost.core import ids
from roost.core.errors import NotFound, RoostError
from tests.support.live import live_server, run_cli
from tests.support.threaded_runner import ThreadedFakeRunner


def roost(env: dict[str, str], *args: str) -> dict[str, Any]:
    result = run_cli(*args, "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_environments_by_name_everywhere_and_completed(tmp_path: Path) -> None:
    with live_server(tmp_path / "plane") as server:
        env = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
               "ROOST_CONFIG": str(tmp_path / "config.json")}  # fmt: skip
        with ThreadedFakeRunner(server.url, server.admin_token, name="names-runner"):
            _scenario(env)


def _scenario(env: dict[str, str]) -> None:
    created = roost(env, "env", "create", "--name", "named", "--wait", "--timeout", "30")
    env_id = created["metadata"]["id"]
    assert roost(env, "env", "get", "named")["metadata"]["id"] == env_id
    assert roost(env, "env", "stop", "named", "--wait")["status"]["phase"] == "stopped"
    assert roost(env, "env", "start", "named", "--wait")["status"]["phase"] == "running"
    table = run_cli("env", "list", env=env).stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "OWNER"]
    assert [line.split()[1:3] for line in table[1:]] == [["named", "admin"]]  # names, not ids
    missing = run_cli("env", "get", "nope", env=env)
    assert missing.returncode == 1 and "not found" in missing.stderr

    script = run_cli("completion", "bash", env=env)
    assert script.returncode == 0 and "_ROOST_COMPLETE" in script.stdout
    completing = {**env, "_ROOST_COMPLETE": "bash_complete", "COMP_WORDS": "roost env get na",
                  "COMP_CWORD": "3"}  # fmt: skip
    offered = run_cli(env=completing)
    assert "plain,named" in offered.stdout.splitlines(), offered.stdout

    generated = roost(env, "env", "create", "https://git.example/team/app.git")
    assert generated["metadata"]["name"] == "app"  # no random suffix without a clash
    again = roost(env, "env", "create", "https://git.example/team/app.git")
    assert again["metadata"]["name"].startswith("app-")
    for one in (env_id, generated["metadata"]["id"], again["metadata"]["id"]):
        assert run_cli("env", "delete", one, "--wait", env=env).returncode == 0


def _env(env_id: str, name: str, org: str) -> dict[str, Any]:
    meta = {"id": env_id, "name": name, "owner_id": "u1", "organization_id": org}
    return {"metadata": meta, "spec": {"desired_phase": "running"}}


def test_an_ambiguous_name_lists_the_candidates() -> None:
    a, b = ids.new_id(), ids.new_id()
    visible = [_env(a, "dev", "org-a"), _env(b, "dev", "org-b"), _env(ids.new_id(), "web", "o")]
    assert envref.pick("web", visible, set()) == visible[2]["metadata"]["id"]
    assert envref.pick("dev", visible, {b}) == b  # your own wins
    with pytest.raises(RoostError) as caught:
        envref.pick("dev", visible, set())
    message = caught.value.message
    assert a in message and b in message and "org-b" in message
    with pytest.raises(NotFound):
        envref.pick("nope", visible, set())


def test_wait_says_why_it_waits(tmp_path: Path) -> None:
    with live_server(tmp_path / "plane") as server:
        env = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
               "ROOST_CONFIG": str(tmp_path / "config.json")}  # fmt: skip
        waited = run_cli("env", "create", "--name", "w", "--wait", "--timeout", "1", env=env)
        assert waited.returncode == 1
        assert "it is pending: scheduled: no runners are registered" in waited.stderr, waited.stderr
