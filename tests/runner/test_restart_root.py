"""``kill -9`` the runner process: its environments keep running and are re-adopted (root)."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runner.conftest import BUSYBOX_FULL
from tests.support.live import LiveServer, free_port, live_server, run_cli
from tests.support.runner import scrub_host

pytestmark = pytest.mark.root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "plane") as s:
        yield s


def start_runner(
    server: LiveServer, args: list[str], log: Path, token: str | None
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "roost", "runner", "--server", server.url, *args]
    if token:
        argv += ["--token", token]
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_online(env: dict[str, str], name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = run_cli("runner", "list", "-o", "json", env=env)
        if result.returncode == 0 and any(
            r["name"] == name and r["state"] == "online" for r in json.loads(result.stdout)
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"runner {name} did not come online")


def wait_connected(log: Path, times: int, timeout: float = 60) -> None:
    """Until the runner has logged its ``times``-th connection (its access server is up)."""
    deadline = time.monotonic() + timeout
    while log.read_text().count(" connected to ") < times:
        if time.monotonic() > deadline:
            raise AssertionError(f"the runner did not reconnect: {log.read_text()[-3000:]}")
        time.sleep(0.1)


async def test_kill_9_and_restart_re_adopts_running_environments(
    server: LiveServer, tmp_path: Path, busybox_full: object
) -> None:
    tag = secrets.token_hex(3)
    data = tmp_path / "runner"
    names = {"nft_table": f"rk{tag}", "bridge": f"rkb{tag}", "subnet": "10.214.250.0/24",
             "cgroup_parent": f"roost-test-{tag}"}  # fmt: skip
    args = [
        "--name", "restarter", "--data-dir", str(data),
        "--access-listen", f"127.0.0.1:{free_port()}",
        "--ids-dir", str(tmp_path / "ids"), "--nft-table", names["nft_table"],
        "--bridge", names["bridge"], "--subnet", names["subnet"],
        "--cgroup-parent", names["cgroup_parent"],
        "--backup-repository", str(tmp_path / "backups"),
    ]  # fmt: skip
    env = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
           "ROOST_CONFIG": str(tmp_path / "cli.json")}  # fmt: skip
    tarball = Path(busybox_full.layers[0])  # type: ignore[attr-defined]
    archive = tmp_path / "busybox.tar"
    subprocess.run(
        ["tar", "-C", str(tarball), "--numeric-owner", "-cf", str(archive), "."], check=True
    )
    imported = run_cli(
        "image", "import", str(archive), "--name", BUSYBOX_FULL, "--data-dir", str(data), env=env
    )
    assert imported.returncode == 0, imported.stderr
    token = run_cli("runner", "token", env=env).stdout.strip()
    log = tmp_path / "runner.log"
    proc = start_runner(server, args, log, token)
    try:
        wait_online(env, "restarter")
        created = run_cli("env", "create", "--image", BUSYBOX_FULL, "--wait", "--timeout", "60",
                          "-o", "json", env=env)  # fmt: skip
        assert created.returncode == 0, created.stderr + log.read_text()[-3000:]
        env_id = json.loads(created.stdout)["metadata"]["id"]
        started = run_cli("env", "exec", env_id, "--", "sh", "-c",
                          "sleep 1000 >/dev/null 2>&1 & echo $!", env=env)  # fmt: skip
        assert started.returncode == 0, started.stderr
        sleeper = started.stdout.strip()

        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = subprocess.run(["crun", "--root", str(data / "envs" / ".crun"), "state", env_id],
                               capture_output=True, text=True, check=True)  # fmt: skip
        assert json.loads(state.stdout)["status"] == "running"  # it outlived the runner

        proc = start_runner(server, args, log, None)  # no token: the credential was kept
        wait_connected(log, times=2)  # the plane may still list it online from before the kill
        check = run_cli("env", "exec", env_id, "--", "sh", "-c", f"kill -0 {sleeper} && echo same",
                        env=env)  # fmt: skip
        assert check.stdout.strip() == "same", check.stderr  # adopted, not restarted
        stopped = run_cli("env", "stop", env_id, "--wait", "--timeout", "60", env=env)
        assert stopped.returncode == 0, stopped.stderr
        deleted = run_cli("env", "delete", env_id, "--wait", "--timeout", "60", env=env)
        assert deleted.returncode == 0, deleted.stderr
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        await scrub_host(data, **names)
