"""What failures leave behind is cleaned up (root: backups read through idmapped views): a
backup killed mid-way leaves restic's lock, which the runner's next use of the repository
removes; a restore that fails leaves no staging."""

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
from roost.runner.backup.errors import BackupError
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


def killed_backup(repo: Path, data_mib: int = 0) -> None:
    """A ``restic backup`` that holds its lock (waiting on stdin), killed like a runner --
    after writing packs of ``data_mib`` of random data, if asked."""
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo)}
    subprocess.run(["restic", "init", "--repository-version", "2"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    argv = ["restic", "backup", "--stdin", "--stdin-filename", "x"]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(os.urandom(data_mib << 20))
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        any("-tmp-" not in p.name for p in (repo / "locks").iterdir())  # written, not half
        and (not data_mib or packs(repo))
    ):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert proc.stdin is not None
    proc.stdin.close()


def engine_for(tmp_path: Path) -> BackupEngine:
    settings = BackupSettings(work_dir=tmp_path / "work", repository=str(tmp_path / "backups"))
    journals = JournalStore(tmp_path / "journal")
    return BackupEngine(settings, Plane(), tmp_path / "envs", journals)  # type: ignore[arg-type]


def an_env() -> Environment:
    now = datetime.now(UTC).isoformat()
    return Environment.model_validate({
        "metadata": {"id": "e1", "name": "e", "organization_id": "o", "owner_id": "u",
                     "created_at": now, "updated_at": now},
        "spec": {}, "status": {},
    })  # fmt: skip


async def test_a_killed_backups_lock_is_gone_at_the_next_backup(tmp_path: Path) -> None:
    repo = tmp_path / "backups" / "org-o"
    await asyncio.to_thread(killed_backup, repo)
    assert list((repo / "locks").iterdir())  # what the kill left
    engine = engine_for(tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "note").write_text("kept\n")
    env = an_env()

    async def report(*args: object, **details: object) -> None:
        return None

    await engine.back_up(env, EnvFiles(workspace=workspace, id_base=None), "stop", report)
    assert list((repo / "locks").iterdir()) == []


async def test_a_failed_restore_leaves_no_staging(tmp_path: Path) -> None:
    """Regression: a failed restore left its staging (1.4 GB in the fault trial)."""
    repo = tmp_path / "backups" / "org-o"
    await asyncio.to_thread(killed_backup, repo)  # any repository will do
    engine = engine_for(tmp_path)
    gone = Backup(id="f" * 64, environment_id="e1", organization_id="o", repository="org-o",
                  location=engine.settings.location, created_at=datetime.now(UTC))  # fmt: skip
    access = BackupAccess(repository="org-o", password=PASSWORD, latest=gone)
    with pytest.raises(BackupError):
        await engine.restore(an_env(), access, tmp_path / "ws", 1 << 24)
    assert not (engine.work("e1") / "stage").exists()


def packs(repo: Path) -> set[str]:
    return {p.name for p in (repo / "data").glob("*/*") if "-tmp-" not in p.name}


async def test_a_killed_backups_orphan_packs_are_reclaimed(tmp_path: Path) -> None:
    """Regression: a runner killed mid-backup left packs no snapshot references."""
    repo = tmp_path / "backups" / "org-o"
    await asyncio.to_thread(killed_backup, repo, 40)
    orphans = packs(repo)
    assert orphans  # what the kill left
    engine = engine_for(tmp_path)
    journal = engine.journals.load("e1")
    journal.writing = True  # as the killed runner left it
    engine.journals.save(journal)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "note").write_text("kept\n")

    async def report(*args: object, **details: object) -> None:
        return None

    await engine.back_up(an_env(), EnvFiles(workspace=workspace, id_base=None), "stop", report)
    assert not orphans & packs(repo)
    assert engine.journals.load("e1").writing is False
