"""An admin's commands against a real server: the audit trail with names, projects by name."""

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


def as_admin(server: LiveServer, tmp: Path) -> dict[str, str]:
    return {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
            "ROOST_CONFIG": str(tmp / "config.json")}  # fmt: skip


def ok(env: dict[str, str], *args: str) -> str:
    result = run_cli(*args, env=env)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


def test_audit_shows_names_and_filters(server: LiveServer, tmp_path: Path) -> None:
    admin = as_admin(server, tmp_path)
    made = json.loads(
        ok(admin, "user", "create", "mia", "--org", "default", "--token", "-o", "json")
    )
    mia = {**admin, "ROOST_TOKEN": made["token"]}
    with ThreadedFakeRunner(server.url, server.admin_token, name="audit-runner"):
        ok(mia, "env", "create", "--name", "mias-env", "--wait", "--timeout", "30")
        refused = run_cli("env", "exec", "mias-env", "--", "true", env=admin)
        assert refused.returncode == 1 and "owner" in refused.stderr

    table = ok(admin, "audit", "--denied")
    line = next(row for row in table.splitlines() if "environment.exec" in row)
    assert "admin" in line and "mias-env" in line and "denied" in line and "not the owner" in line
    created = json.loads(ok(admin, "audit", "--actor", "mia", "--action", "environment.create",
                            "-o", "json"))  # fmt: skip
    assert [e["action"] for e in created] == ["environment.create"]
    assert ok(admin, "audit", "--target", "mias-env", "--allowed").count("mias-env") >= 1


def test_projects_and_classes_change_by_name(server: LiveServer, tmp_path: Path) -> None:
    admin = as_admin(server, tmp_path)
    ok(admin, "org", "create", "second")  # the admin is in two organizations now
    ok(admin, "project", "create", "api", "--repo", "https://git.example/a.git", "--org", "default")
    assert json.loads(ok(admin, "project", "get", "api", "-o", "json"))["name"] == "api"
    ok(admin, "project", "update", "api", "--class", "large", "--keep-writable-layer")
    got = json.loads(ok(admin, "project", "get", "api", "-o", "json"))
    assert got["settings"]["default_class"] == "large"
    assert got["settings"]["keep_writable_layer"] is True
    assert got["repo_url"] == "https://git.example/a.git"  # not given: kept

    ok(admin, "class", "create", "tuned", "--cpu", "1", "--org", "default")
    ok(
        admin,
        "class",
        "update",
        "tuned",
        "--org",
        "default",
        "--memory",
        "2048",
        "--workspace-only",
    )
    row = next(line for line in ok(admin, "class", "list", "--org", "default").splitlines()
               if line.startswith("tuned"))  # fmt: skip
    assert row.split()[1:3] == ["1.0", "2048"] and "workspace only" in row
    assert row.split()[-1] == "default"  # the organization's name, not its id
    ok(admin, "class", "delete", "tuned", "--org", "default")
    assert "tuned" not in ok(admin, "class", "list", "--org", "default")
    ok(admin, "project", "delete", "api")
    gone = run_cli("project", "get", "api", env=admin)
    assert gone.returncode == 1 and "not found" in gone.stderr
