"""A runner killed after a backup is written but before it is recorded, or in the middle of a
restore, recovers from the right snapshot: the real ``roost runner`` process, killed at
failpoints (root)."""

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roost.runner.backup.failpoints import EXIT_CODE
from roost.server.services import crypto, repository_keys
from tests.runner.backup.support import WS, restic
from tests.runner.conftest import BUSYBOX_FULL
from tests.support.live import LiveServer, free_port, live_server, run_cli
from tests.support.runner import free_subnet, scrub_host

pytestmark = pytest.mark.root


def runner_process(
    server: LiveServer, args: list[str], log: Path, token: str | None, failpoints: str = ""
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "roost", "runner", "--server", server.url, *args]
    argv += ["--token", token] if token else []
    env = {**os.environ, "ROOST_FAILPOINTS": failpoints}
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


def env_doc(cli: dict[str, str], env_id: str) -> dict[str, object]:
    result = run_cli("env", "get", env_id, "-o", "json", env=cli)
    assert result.returncode == 0, result.stderr
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


def wait_for(check: object, what: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}\n" + log.read_text()[-3000:])
        time.sleep(0.2)


def recorded(cli: dict[str, str], env_id: str) -> list[str]:
    result = run_cli("env", "backups", env_id, "-o", "json", env=cli)
    assert result.returncode == 0, result.stderr
    return [b["id"] for b in json.loads(result.stdout)]


def in_repository(server: LiveServer, backups: Path, env_id: str) -> list[str]:
    with sqlite3.connect(server.data_dir / "roost.db") as db:
        name, sealed = db.execute("SELECT id, password FROM backup_repositories").fetchone()
    password = repository_keys.open_password(crypto.box(server.data_dir), name, sealed)
    out = restic(backups / name, password, "snapshots", "--json", "--tag", f"env={env_id}")
    return [s["id"] for s in json.loads(out.stdout or "[]")]


async def test_killed_after_write_and_mid_restore_recovers_from_the_right_snapshot(
    tmp_path: Path, busybox_full: object
) -> None:
    tag = secrets.token_hex(3)
    data, backups = tmp_path / "runner", tmp_path / "backups"
    names = {"nft_table": f"rf{tag}", "bridge": f"rfb{tag}", "subnet": free_subnet(217),
             "cgroup_parent": f"roost-test-{tag}"}  # fmt: skip
    args = [
        "--name", "crasher", "--data-dir", str(data), "--access-listen", f"127.0.0.1:{free_port()}",
        "--ids-dir", str(tmp_path / "ids"), "--nft-table", names["nft_table"],
        "--bridge", names["bridge"], "--subnet", names["subnet"],
        "--cgroup-parent", names["cgroup_parent"], "--backup-repository", str(backups),
        "--backup-interval", "0", "--ssh-listen", "off",
    ]  # fmt: skip
    log = tmp_path / "runner.log"
    with live_server(tmp_path / "plane") as server:
        cli = {"ROOST_URL": server.url, "ROOST_TOKEN": server.admin_token,
               "ROOST_CONFIG": str(tmp_path / "cli.json")}  # fmt: skip
        archive = tmp_path / "busybox.tar"
        layer = Path(busybox_full.layers[0])  # type: ignore[attr-defined]
        subprocess.run(["tar", "-C", str(layer), "--numeric-owner", "-cf", str(archive), "."],
                       check=True)  # fmt: skip
        imported = run_cli("image", "import", str(archive), "--name", BUSYBOX_FULL,
                           "--data-dir", str(data), env=cli)  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        token = run_cli("runner", "token", env=cli).stdout.strip()
        proc = runner_process(server, args, log, token, "backup-written-before-recorded")
        try:
            created = run_cli("env", "create", "--image", BUSYBOX_FULL, "--wait", "--timeout",
                              "90", "-o", "json", env=cli, timeout=120)  # fmt: skip
            assert created.returncode == 0, created.stderr + log.read_text()[-3000:]
            env_id = json.loads(created.stdout)["metadata"]["id"]
            wrote = run_cli("env", "exec", env_id, "--", "sh", "-c",
                            f"echo precious > {WS}/note", env=cli)  # fmt: skip
            assert wrote.returncode == 0, wrote.stderr

            # 1. Killed after restic wrote the snapshot, before it was verified and recorded.
            assert run_cli("env", "stop", env_id, env=cli).returncode == 0
            assert proc.wait(120) == EXIT_CODE
            written = in_repository(server, backups, env_id)
            assert len(written) == 1 and recorded(cli, env_id) == []

            proc = runner_process(server, args, log, None)
            wait_for(lambda: env_doc(cli, env_id)["status"]["runner_id"] is None,  # type: ignore[index]
                     "released after the restart", log)  # fmt: skip
            assert recorded(cli, env_id) == written  # the snapshot written before the kill
            assert in_repository(server, backups, env_id) == written  # and no second one
            proc.terminate()
            proc.wait(30)

            # 2. Killed in the middle of the restore.
            proc = runner_process(server, args, log, None, "restore-mid")
            assert run_cli("env", "start", env_id, env=cli).returncode == 0
            assert proc.wait(120) == EXIT_CODE
            assert not (data / "workspaces" / env_id).exists()  # nothing half-restored in place

            proc = runner_process(server, args, log, None)
            wait_for(lambda: env_doc(cli, env_id)["status"]["phase"] == "running",  # type: ignore[index]
                     "running after the restart", log)  # fmt: skip
            note = run_cli("env", "exec", env_id, "--", "cat", f"{WS}/note", env=cli)
            assert note.stdout == "precious\n", note.stderr
            backup = env_doc(cli, env_id)["status"]["conditions"]["backup"]  # type: ignore[index]
            assert backup["message"].startswith(f"restored backup {written[0][:8]}")
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
            await scrub_host(data, **names)
