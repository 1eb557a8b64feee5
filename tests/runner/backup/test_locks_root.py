"""A backup killed mid-way leaves restic's lock in the repository; the runner's next use of the
repository removes it (root: the backup reads through idmapped views)."""

import asyncio
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from roost.core.schemas.backups import Backup, BackupAccess, BackupRecord
from roost.core.schemas.environments import Environment
from roost.runner.backup.engine import BackupEngine, EnvFiles
from roost.runner.backup.journal import JournalStore
from roost.runner.backup.settings import BackupSettings

pytestmark = pytest.mark.root
PASSWORD = "test-password"


class Plane:
    async def backup_access(self, env_id: str) -> BackupAccess:
        return BackupAccess(repository="org-o", password=PASSWORD)

    async def record_backup(self, env_id: str, record: BackupRecord) -> Backup:
        return Backup(id=record.snapshot, environment_id=env_id, organization_id="o",
                      repository=record.repository, location=record.location,
                      created_at=datetime.now(UTC))  # fmt: skip


def killed_backup(repo: Path) -> None:
    """A ``restic backup`` that holds its lock (waiting on stdin), killed like a runner."""
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo)}
    subprocess.run(["restic", "init", "--repository-version", "2"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    argv = ["restic", "backup", "--stdin", "--stdin-filename", "x"]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not any((repo / "locks").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert proc.stdin is not None
    proc.stdin.close()


async def test_a_killed_backups_lock_is_gone_at_the_next_backup(tmp_path: Path) -> None:
    repo = tmp_path / "backups" / "org-o"
    await asyncio.to_thread(killed_backup, repo)
    assert list((repo / "locks").iterdir())  # what the kill left
    settings = BackupSettings(work_dir=tmp_path / "work", repository=str(tmp_path / "backups"))
    journals = JournalStore(tmp_path / "journal")
    engine = BackupEngine(settings, Plane(), tmp_path / "envs", journals)  # type: ignore[arg-type]
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "note").write_text("kept\n")
    now = datetime.now(UTC).isoformat()
    env = Environment.model_validate({
        "metadata": {"id": "e1", "name": "e", "organization_id": "o", "owner_id": "u",
                     "created_at": now, "updated_at": now},
        "spec": {}, "status": {},
    })  # fmt: skip

    async def report(*args: object, **details: object) -> None:
        return None

    await engine.back_up(env, EnvFiles(workspace=workspace, id_base=None), "stop", report)
    assert list((repo / "locks").iterdir()) == []
