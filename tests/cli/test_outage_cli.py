"""During a plane outage ``roost env exec`` and ``roost env ssh`` fail within seconds and say
the plane is unreachable (they used to hang for a minute or more without a word)."""

import time
from pathlib import Path

from tests.support.blackhole import silent_plane
from tests.support.live import free_port, run_cli

ENV_ID = "0123456789abcdefghjk"


def test_exec_and_ssh_fail_fast_when_the_plane_does_not_answer(tmp_path: Path) -> None:
    with silent_plane() as url:
        env = {"ROOST_URL": url, "ROOST_TOKEN": "roost_x", "ROOST_CONFIG": str(tmp_path / "c")}
        for args in (["env", "exec", ENV_ID, "--", "true"], ["env", "ssh", ENV_ID]):
            started = time.monotonic()
            result = run_cli(*args, env=env, timeout=50)
            took = time.monotonic() - started
            assert result.returncode == 1, result.stderr
            assert "did not answer in time" in result.stderr and url in result.stderr
            assert took < 25, took


def test_exec_fails_at_once_when_the_plane_is_down(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens
    env = {"ROOST_URL": url, "ROOST_TOKEN": "roost_x", "ROOST_CONFIG": str(tmp_path / "c")}
    result = run_cli("env", "exec", ENV_ID, "--", "true", env=env, timeout=30)
    assert result.returncode == 1 and "cannot reach the Roost server" in result.stderr
