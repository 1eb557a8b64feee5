"""``roost env start --runner`` and ``roost env backups`` against a real ``roost server`` (the
move itself, with runners, is tested in tests/server/test_moves.py and with real runners in
tests/runner/backup/test_move_op_root.py)."""

import json
from pathlib import Path

from tests.support.live import live_server, run_cli


def test_start_on_an_unknown_runner_is_refused_and_backups_are_listed(tmp_path: Path) -> None:
    with live_server(tmp_path / "plane") as server:
        env = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
               "ROOST_CONFIG": str(tmp_path / "config.json")}  # fmt: skip

        def roost(*args: str) -> object:
            result = run_cli(*args, "-o", "json", env=env)
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout)

        created = roost("env", "create", "--name", "pinned")
        env_id = created["metadata"]["id"]  # type: ignore[index]
        roost("env", "stop", env_id)
        refused = run_cli("env", "start", env_id, "--runner", "other-runner", env=env)
        assert refused.returncode == 1
        assert "runner 'other-runner' not found" in refused.stderr
        assert roost("env", "get", env_id)["spec"]["desired_phase"] == "stopped"  # type: ignore[index]
        assert roost("env", "backups", env_id) == []
        help_text = run_cli("env", "start", "--help", env=env).stdout
        assert "--runner" in help_text


def test_backup_now_says_when_there_is_nothing_to_back_up(tmp_path: Path) -> None:
    with live_server(tmp_path / "plane") as server:
        env = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
               "ROOST_CONFIG": str(tmp_path / "config.json")}  # fmt: skip
        created = run_cli("env", "create", "--name", "nowhere", "-o", "json", env=env)
        env_id = json.loads(created.stdout)["metadata"]["id"]
        result = run_cli("env", "backup", env_id, env=env)  # no runner has it
        assert result.returncode != 0
        assert "is on no runner" in result.stderr and "nothing to back up" in result.stderr
        assert "up now" in run_cli("env", "backup", "--help", env=env).stdout
