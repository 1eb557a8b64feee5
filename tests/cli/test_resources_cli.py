"""``roost class`` with bandwidth, and ``roost org egress``, against a real server."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, live_server, run_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("plane")) as s:
        yield s


def roost(server: LiveServer, tmp: Path, *args: str) -> str:
    env = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
           "ROOST_CONFIG": str(tmp / "config.json")}  # fmt: skip
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_class_with_bandwidth(server: LiveServer, tmp_path: Path) -> None:
    roost(server, tmp_path, "class", "create", "capped", "--cpu", "1", "--upload", "10",
          "--download", "50")  # fmt: skip
    table = roost(server, tmp_path, "class", "list")
    assert "UP_MBIT" in table.splitlines()[0]
    line = next(line for line in table.splitlines() if line.startswith("capped"))
    assert line.split()[5:7] == ["10", "50"]


def test_org_egress(server: LiveServer, tmp_path: Path) -> None:
    out = roost(server, tmp_path, "org", "egress", "default", "10.1.2.3", "10.0.0.0/8")
    assert "10.0.0.0/8" in out and "10.1.2.3" not in out  # merged
    doc = json.loads(roost(server, tmp_path, "org", "get", "default", "-o", "json"))
    assert doc["policy"]["egress_allow"] == ["10.0.0.0/8"]
    assert "nowhere" in roost(server, tmp_path, "org", "egress", "default")
    assert "anywhere" in roost(server, tmp_path, "org", "egress", "default", "--any")


def test_class_and_environment_with_nested_containers(server: LiveServer, tmp_path: Path) -> None:
    doc = json.loads(roost(server, tmp_path, "class", "create", "engines", "--nested-containers",
                           "-o", "json"))  # fmt: skip
    assert doc["resources"]["nested_containers"] is True
    env = json.loads(roost(server, tmp_path, "env", "create", "--class", "engines",
                           "--nested-containers", "-o", "json"))  # fmt: skip
    assert env["spec"]["nested_containers"] is True
    env_vars = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
                "ROOST_CONFIG": str(tmp_path / "config.json")}  # fmt: skip
    refused = run_cli("env", "create", "--nested-containers", env=env_vars)
    assert refused.returncode == 1
    assert "does not allow nested containers" in refused.stderr


def test_classes_keep_the_whole_environment_at_stop_unless_told(
    server: LiveServer, tmp_path: Path
) -> None:
    roost(server, tmp_path, "class", "create", "quick", "--workspace-only")
    roost(server, tmp_path, "class", "create", "whole")
    table = roost(server, tmp_path, "class", "list")
    assert "STOP_KEEPS" in table.splitlines()[0]
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "workspace only" in rows["quick"] and "everything" in rows["whole"]
