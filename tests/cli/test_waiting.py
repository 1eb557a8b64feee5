"""What the CLI says about waits and about exit codes that are the environment's."""

import subprocess
from pathlib import Path

import click
from click.testing import CliRunner

from roost.cli.commands.env import env as env_cli
from roost.cli.localrepo import uncommitted
from roost.cli.main import cli
from roost.cli.waiting import exit_hint


def test_exit_codes_137_and_254_come_with_a_reason() -> None:
    env = {"status": {"conditions": {"resources": {"message": (
        "1 CPU, 256 MiB, 20 GiB disk, 64 pids; process limit reached (64 pids): 9 new "
        "processes refused; end some, or use a class with more pids"
    )}}}}  # fmt: skip
    hint = exit_hint(254, env)
    assert hint.startswith("roost: exit 254: the command could not be started")
    assert "process limit reached (64 pids)" in hint
    assert "out of memory or processes" in exit_hint(137, {"status": {"conditions": {}}})
    assert exit_hint(1, env) == ""


def test_create_from_a_path_warns_about_uncommitted_changes(tmp_path: Path) -> None:
    repo = tmp_path / "app"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path)}  # fmt: skip
    env["PATH"] = "/usr/bin:/bin"
    (repo / "kept.txt").write_text("x\n")
    for argv in (["init", "-qb", "main"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True)
    assert uncommitted(repo) == []
    (repo / "kept.txt").write_text("changed\n")
    (repo / "new.txt").write_text("new\n")
    assert sorted(line[3:] for line in uncommitted(repo)) == ["kept.txt", "new.txt"]
    result = CliRunner().invoke(
        env_cli, ["create", str(repo)], env={"ROOST_URL": "http://127.0.0.1:9"}
    )
    assert "warning: 2 uncommitted change(s)" in result.output and "kept.txt" in result.output


def test_every_command_has_help_and_the_main_ones_examples() -> None:
    def leaves(cmd: click.Command, path: list[str]) -> list[tuple[str, click.Command]]:
        if isinstance(cmd, click.Group):
            return [x for n, sub in cmd.commands.items() for x in leaves(sub, [*path, n])]
        return [(" ".join(path), cmd)]

    found = leaves(cli, [])
    assert [name for name, cmd in found if not (cmd.help or "").strip()] == []
    for name in ("env create", "env exec", "env logs", "config-ssh", "audit", "completion"):
        assert "Examples:" in (dict(found)[name].help or ""), name


def test_env_list_shows_failures_distinctly() -> None:
    from datetime import UTC, datetime

    from roost.cli.commands.env import _summary
    from roost.core.schemas.environments import Environment

    def env(phase: str, conditions: dict[str, object], message: str = "") -> Environment:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        return Environment.model_validate({
            "metadata": {"id": "e1", "name": "dev", "organization_id": "o", "owner_id": "u",
                         "created_at": now, "updated_at": now},
            "spec": {}, "status": {"phase": phase, "conditions": conditions, "message": message},
        })  # fmt: skip

    hook = {"phase": "failed", "message": "postCreateCommand failed with exit code 1",
            "details": {"hook": "postCreateCommand"}}  # fmt: skip
    hook["updated_at"] = "2026-01-01T00:00:00Z"
    row = _summary(env("running", {"devcontainer": hook}))
    assert row[3] == "running, postCreateCommand FAILED" and "exit code 1" in str(row[6])
    assert _summary(env("failed", {}, "build failed"))[3] == "FAILED"
    assert _summary(env("running", {}))[3] == "running"
