"""The restic wrapper against real repositories in temporary directories (no root needed):
concurrent backups that do not corrupt each other, lock contention handled, verification."""

import asyncio
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from roost.runner.backup.errors import BackupError
from roost.runner.backup.fastkey import FAST_N, FAST_P, FAST_R, cheapen
from roost.runner.backup.restic import Repository, ResticOptions
from roost.runner.backup.verify import damaged_packs, verify
from tests.runner.backup.support import restic

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="needs restic")


def repo_at(tmp_path: Path, **options: object) -> Repository:
    opts = ResticOptions(cache_dir=tmp_path / "cache", **options)  # type: ignore[arg-type]
    return Repository(str(tmp_path / "repo"), "secret", opts)


def tree(root: Path, seed: int, size: int = 200_000) -> Path:
    (root / "src").mkdir(parents=True)
    for i in range(20):
        (root / "src" / f"m{i}.py").write_text(f"# {seed} {i}\n" * 50)
    (root / "blob.bin").write_bytes(os.urandom(size))
    return root


async def test_backup_verify_restore_round_trip(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    await repo.ensure()
    await repo.ensure()  # idempotent
    data = tree(tmp_path / "data", 1)
    before = await repo.list_packs()
    summary = await repo.backup(data.parent, ["data"], parent=None, tags=["env=e1"], idle=True)
    assert len(summary.snapshot_id) == 64 and summary.files == 21
    stats = await verify(repo, summary.snapshot_id, before)
    assert stats["total_size"] > 0
    await repo.restore(summary.snapshot_id, tmp_path / "out")
    assert (tmp_path / "out" / "data" / "blob.bin").read_bytes() == (data / "blob.bin").read_bytes()
    assert await repo.snapshot("f" * 64) is None
    await repo.forget(["f" * 64])  # already gone: fine


async def test_concurrent_backups_into_one_repository_do_not_corrupt_it(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    await repo.ensure()
    roots = [tree(tmp_path / f"env{i}" / "workspace", i) for i in range(4)]
    summaries = await asyncio.gather(*(
        repo.backup(r.parent, ["workspace"], parent=None, tags=[f"env=e{i}"], idle=False)
        for i, r in enumerate(roots)
    ))  # fmt: skip
    assert len({s.snapshot_id for s in summaries}) == 4
    checked = restic(tmp_path / "repo", "secret", "check", "--read-data")
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_an_exclusive_operation_waits_for_a_running_backup(tmp_path: Path) -> None:
    slow = repo_at(tmp_path, limit_upload_kib=400)
    await slow.ensure()
    data = tree(tmp_path / "data", 2, size=1_500_000)  # about 4 s at 400 KiB/s
    first = await slow.backup(data.parent, ["data"], parent=None, tags=["t"], idle=False)
    (data / "blob.bin").write_bytes(os.urandom(1_500_000))
    backup = asyncio.create_task(
        slow.backup(data.parent, ["data"], parent=first.snapshot_id, tags=["t"], idle=False)
    )
    await asyncio.sleep(1.0)  # the backup holds its (shared) lock now
    await repo_at(tmp_path).forget([first.snapshot_id])  # exclusive: retried until it is free
    second = await backup
    assert await slow.snapshot(first.snapshot_id) is None
    assert await slow.snapshot(second.snapshot_id) is not None


async def test_a_damaged_pack_fails_verification(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    await repo.ensure()
    before = await repo.list_packs()
    data = tree(tmp_path / "data", 3)
    summary = await repo.backup(data.parent, ["data"], parent=None, tags=[], idle=False)
    new = await repo.list_packs() - before
    assert damaged_packs(tmp_path / "repo", new) == []
    victim = max(new, key=lambda n: (tmp_path / "repo/data" / n[:2] / n).stat().st_size)
    path = tmp_path / "repo/data" / victim[:2] / victim
    path.chmod(0o600)
    with path.open("r+b") as f:
        f.seek(100)
        f.write(b"damage")
    with pytest.raises(BackupError) as caught:
        await verify(repo, summary.snapshot_id, before)
    assert caught.value.kind == "corrupted"


async def test_a_wrong_password_is_named(tmp_path: Path) -> None:
    await repo_at(tmp_path).ensure()
    wrong = Repository(str(tmp_path / "repo"), "not it", ResticOptions(cache_dir=tmp_path / "c"))
    with pytest.raises(BackupError) as caught:
        await wrong.ensure()
    assert caught.value.kind == "password"


async def test_a_new_local_repository_gets_a_key_that_opens_fast(tmp_path: Path) -> None:
    """fastkey.py: the same master key, re-wrapped with cheap scrypt parameters; restic opens
    it with the password and refuses another one."""
    repo = repo_at(tmp_path)
    await repo.ensure()
    keys = list((tmp_path / "repo" / "keys").iterdir())
    assert len(keys) == 1
    doc = json.loads(keys[0].read_text())
    assert (doc["N"], doc["r"], doc["p"]) == (FAST_N, FAST_R, FAST_P)
    assert keys[0].name == hashlib.sha256(keys[0].read_bytes()).hexdigest()
    data = tree(tmp_path / "data", 3)
    summary = await repo.backup(data.parent, ["data"], parent=None, tags=[], idle=False)
    assert restic(tmp_path / "repo", "secret", "check").returncode == 0
    listed = restic(tmp_path / "repo", "secret", "snapshots", "--json")
    assert listed.returncode == 0 and summary.snapshot_id in listed.stdout
    wrong = restic(tmp_path / "repo", "not-the-password", "snapshots")
    assert wrong.returncode != 0 and "wrong password" in wrong.stderr
    assert not cheapen(tmp_path / "repo", "secret")  # already fast: nothing to do
