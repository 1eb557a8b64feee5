"""The CLI against a real ``roost server`` process, as a user would run it."""

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


@pytest.fixture
def env(server: LiveServer, tmp_path: Path) -> dict[str, str]:
    return {
        "ROOST_URL": server.url,
        "ROOST_TOKEN": server.admin_token,
        "ROOST_CONFIG": str(tmp_path / "config.json"),
    }


def roost(env: dict[str, str], *args: str) -> dict:  # type: ignore[type-arg]
    result = run_cli(*args, "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_first_start_writes_a_private_admin_token(server: LiveServer) -> None:
    path = server.data_dir / "admin-token"
    assert path.stat().st_mode & 0o777 == 0o600
    assert server.admin_token.startswith("roost_")


def test_login_saves_url_and_token(server: LiveServer, tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    result = run_cli(
        "login", server.url, "--token", server.admin_token, env={"ROOST_CONFIG": str(cfg)}
    )
    assert result.returncode == 0, result.stderr
    assert "as admin" in result.stdout
    assert cfg.stat().st_mode & 0o777 == 0o600
    who = run_cli("whoami", "-o", "json", env={"ROOST_CONFIG": str(cfg)})
    assert json.loads(who.stdout)["user"]["name"] == "admin"


def test_env_lifecycle_with_wait(server: LiveServer, env: dict[str, str]) -> None:
    with ThreadedFakeRunner(server.url, server.admin_token, name="cli-runner"):
        created = roost(env, "env", "create", "--name", "cli-env", "--wait", "--timeout", "30")
        env_id = created["metadata"]["id"]
        assert created["status"]["phase"] == "running"
        got = roost(env, "env", "get", env_id)
        assert got["spec"]["spec_version"] == got["status"]["observed_spec_version"] == 1
        assert roost(env, "env", "stop", env_id, "--wait")["status"]["phase"] == "stopped"
        assert roost(env, "env", "start", env_id, "--wait")["status"]["phase"] == "running"
        listed = roost(env, "env", "list")
        assert env_id in [e["metadata"]["id"] for e in listed]
        result = run_cli("env", "delete", env_id, "--wait", env=env)
        assert result.returncode == 0, result.stderr
        assert "deleted" in result.stdout
    gone = run_cli("env", "get", env_id, env=env)
    assert gone.returncode == 1


def test_errors_go_to_stderr_with_exit_codes(server: LiveServer, env: dict[str, str]) -> None:
    missing = run_cli("env", "get", "nope", env=env)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "not found" in missing.stderr and "roost env list" in missing.stderr
    usage = run_cli("env", "create", "--class", env=env)
    assert usage.returncode == 2
    bad_class = run_cli("env", "create", "--class", "galactic", env=env)
    assert bad_class.returncode == 1
    assert "roost class list" in bad_class.stderr


def test_not_logged_in_says_how(tmp_path: Path) -> None:
    result = run_cli("env", "list", env={"ROOST_CONFIG": str(tmp_path / "none.json")})
    assert result.returncode == 1
    assert "roost login" in result.stderr


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        "ROOST_URL": "http://127.0.0.1:9",
        "ROOST_TOKEN": "roost_x_y",
        "ROOST_CONFIG": str(tmp_path / "c.json"),
    }
    result = run_cli("env", "list", env=env)
    assert result.returncode == 1
    assert "cannot reach the Roost server" in result.stderr


def test_org_project_token_runner_commands(server: LiveServer, env: dict[str, str]) -> None:
    roost(env, "org", "create", "cli-org")
    assert "cli-org" in [o["name"] for o in roost(env, "org", "list")]
    made = roost(env, "user", "create", "cli-user", "--org", "cli-org", "--token")
    user_env = env | {"ROOST_TOKEN": str(made["token"])}
    assert roost(user_env, "whoami")["user"]["name"] == "cli-user"
    members = roost(env, "org", "members", "cli-org")
    assert {m["user_name"] for m in members} == {"admin", "cli-user"}
    project = roost(
        env,
        "project",
        "create",
        "cli-proj",
        "--org",
        "cli-org",
        "--repo",
        "https://example.com/p.git",
        "--class",
        "small",
    )
    assert project["settings"]["default_class"] == "small"
    created = roost(env, "token", "create", "--name", "ci", "--expires", "1h")
    assert created["secret"].startswith("roost_")
    revoked = run_cli("token", "revoke", created["token"]["id"], env=env)
    assert revoked.returncode == 0
    dead = run_cli("whoami", env=env | {"ROOST_TOKEN": created["secret"]})
    assert dead.returncode == 1 and "revoked" in dead.stderr
    assert isinstance(roost(env, "runner", "list"), list)
    reg = run_cli("runner", "token", env=env)
    assert reg.returncode == 0 and reg.stdout.startswith("roost_")
    classes = roost(env, "class", "list")
    assert {"default", "small", "large"} <= {c["name"] for c in classes}
