"""Small pieces: error classification and messages, the journal, locations."""

from pathlib import Path

import pytest

from roost.core.errors import Unavailable
from roost.runner.backup.engine import BackupEngine
from roost.runner.backup.errors import BackupError, classify, explain
from roost.runner.backup.journal import Journal, JournalStore
from roost.runner.backup.settings import BackupSettings, location_of, machine_id


def test_restic_failures_are_classified() -> None:
    cases = {
        "Fatal: unable to save snapshot: write /b/data/ab/x: no space left on device": "full",
        "ignoring error for /big: ciphertext verification failed\nFatal: There were 1 errors": (
            "corrupted"
        ),
        'invalid id "deadbeef": no matching ID found for prefix "deadbeef"': "missing",
        "unable to create lock in backend: repository is already locked by PID 7": "locked",
        "Fatal: wrong password or no key found": "password",
        "Fatal: something new": "failed",
    }
    for stderr, kind in cases.items():
        assert classify(stderr, 1, "backup").kind == kind, stderr
    assert classify("warning: could not read x", 3, "backup").kind == "incomplete"


def test_messages_say_what_happened_and_what_is_safe() -> None:
    full = BackupError("full", "backup failed: no space left on device")
    text = explain(full, location="file://m/var/backups", previous="0123456789abcdef")
    assert "backup target file://m/var/backups is full" in text
    assert "previous backup 01234567 is intact" in text
    first = explain(BackupError("locked", "x"), location="l", previous=None)
    assert "no earlier backup exists" in first
    assert full.retryable and not BackupError("corrupted", "x").retryable


def test_the_journal_survives_restarts_and_torn_files(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    assert store.load("e1") == Journal("e1")
    store.save(Journal("e1", local_files=True, pending="ab" * 32, pending_summary={"files": 3}))
    assert JournalStore(tmp_path).load("e1").pending == "ab" * 32
    store.path("e2").write_text('{"env_id": "e2", "local_fi')  # a crash mid-write (no rename)
    assert store.load("e2") == Journal("e2")
    store.remove("e1")
    assert not store.load("e1").local_files


def test_locations_name_the_place_every_runner_there_agrees_on(tmp_path: Path) -> None:
    assert location_of(str(tmp_path)) == f"file://{machine_id()}{tmp_path.resolve()}"
    assert location_of("s3:https://s3.example.com/bucket/roost/") == (
        "s3:https://s3.example.com/bucket/roost"
    )
    s3 = BackupSettings(work_dir=tmp_path, repository="s3:https://s3.example.com/b")
    assert s3.url("project-x") == "s3:https://s3.example.com/b/project-x" and not s3.is_local
    local = BackupSettings(work_dir=tmp_path, repository=str(tmp_path / "b"))
    assert local.url("org-y") == str(tmp_path / "b" / "org-y")


async def test_a_plane_that_is_down_is_named_not_the_repository(tmp_path: Path) -> None:
    """Regression: a backup failed while the plane was down said the repository could not be
    reached."""

    class DownPlane:
        async def backup_access(self, env_id: str) -> object:
            raise Unavailable("the plane at http://plane is unreachable")

    settings = BackupSettings(work_dir=tmp_path)
    engine = BackupEngine(settings, DownPlane(), tmp_path / "envs", JournalStore(tmp_path / "j"))  # type: ignore[arg-type]
    with pytest.raises(BackupError) as caught:
        await engine.access("e1")
    text = explain(caught.value, location="file://m/var/backups", previous="0123456789abcdef")
    assert "the plane cannot be reached" in text and "repository file://" not in text
    assert caught.value.retryable
