"""When backups go wrong, work is never lost and the status says what happened (root).

A full backup target fails cleanly with the previous backup intact; a corrupted pack is detected
on restore; a missing backup fails the start instead of starting empty; a deleted environment's
backups go after the retention.
"""

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.runner.images import Image
from roost.server.services import backup_retention
from tests.runner.backup.support import (
    WS,
    create,
    eventually,
    repository,
    restic,
    sh,
    start,
    stop_and_release,
    wait_condition,
)
from tests.runner.conftest import shared_image_store
from tests.support.plane import PlaneHarness
from tests.support.runner import free_subnet, real_runner, wait_phase

pytestmark = pytest.mark.root


@pytest.fixture
def small_target(tmp_path: Path) -> Iterator[Path]:
    """The runners' backup directory, on an 8 MiB tmpfs."""
    target = tmp_path / "backups"
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


async def test_a_full_backup_target_fails_cleanly_with_the_previous_backup_intact(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image, small_target: Path
) -> None:
    async with real_runner(plane, tmp_path, shared_image_store(), subnet=free_subnet(217)) as r:
        env_id = await create(plane)
        await sh(plane, env_id, f"echo first > {WS}/note")
        first = (await stop_and_release(plane, env_id, r))["status"]["conditions"]["backup"]
        await start(plane, env_id)
        await sh(
            plane, env_id, f"head -c 12000000 /dev/urandom > {WS}/big && echo second > {WS}/note"
        )
        await plane.admin.post(f"/api/v1/environments/{env_id}/stop")

        failed = await wait_condition(plane, env_id, "backup", "failed")
        assert "backup target" in failed["message"] and "is full" in failed["message"], failed
        assert f"previous backup {first['details']['snapshot'][:8]} is intact" in failed["message"]
        doc = await wait_phase(plane, env_id, "stopped")
        assert doc["status"]["runner_id"] == r.id  # not released: its files are only here
        assert (r.config.data_dir / "workspaces" / env_id / "big").exists()

        name, password = await repository(plane)
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_target)], check=True)
        checked = restic(small_target / name, password, "check", "--read-data")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        listed = json.loads(restic(small_target / name, password, "snapshots", "--json").stdout)
        assert first["details"]["snapshot"] in [s["id"] for s in listed]

        # space is back: `roost env backup ID` retries now, not after the back-off (60 s)
        asked = await plane.admin.post(f"/api/v1/environments/{env_id}/backup")
        assert asked.status_code == 200, asked.text
        await wait_condition(plane, env_id, "backup", "ready", timeout=30)
        await eventually(
            lambda: not (r.config.data_dir / "workspaces" / env_id).exists(), "release"
        )
        await start(plane, env_id)
        assert await sh(plane, env_id, f"cat {WS}/note; wc -c < {WS}/big") == "second\n12000000\n"


async def test_a_corrupted_pack_is_detected_on_restore(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    async with real_runner(plane, tmp_path, shared_image_store(), subnet=free_subnet(217)) as r:
        env_id = await create(plane)
        await sh(plane, env_id, f"head -c 3000000 /dev/urandom > {WS}/data")
        await stop_and_release(plane, env_id, r)
        name, _ = await repository(plane)
        packs = sorted(
            (tmp_path / "backups" / name / "data").glob("*/*"), key=lambda p: p.stat().st_size
        )
        biggest = packs[-1]
        biggest.chmod(0o600)
        with biggest.open("r+b") as f:
            f.seek(biggest.stat().st_size // 2)
            f.write(b"\0corrupt\0" * 8)

        await plane.admin.post(f"/api/v1/environments/{env_id}/start")
        doc = await wait_phase(plane, env_id, "failed", timeout=120)
        assert "backup corrupted" in doc["status"]["message"], doc["status"]
        assert doc["status"]["conditions"]["backup"]["phase"] == "failed"


async def test_an_environment_whose_backup_is_missing_fails_to_start_with_a_clear_message(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    async with real_runner(plane, tmp_path, shared_image_store(), subnet=free_subnet(217)) as r:
        env_id = await create(plane)
        await sh(plane, env_id, f"echo precious > {WS}/note")
        doc = await stop_and_release(plane, env_id, r)
        snapshot = doc["status"]["conditions"]["backup"]["details"]["snapshot"]
        name, password = await repository(plane)
        forgot = restic(tmp_path / "backups" / name, password, "forget", snapshot)
        assert forgot.returncode == 0, forgot.stderr

        await plane.admin.post(f"/api/v1/environments/{env_id}/start")
        doc = await wait_phase(plane, env_id, "failed", timeout=120)
        message = doc["status"]["message"]
        assert "missing" in message and "not started empty" in message, message


async def test_a_deleted_environments_backups_go_after_the_retention(
    plane: PlaneHarness, tmp_path: Path, busybox_full: Image
) -> None:
    async with real_runner(plane, tmp_path, shared_image_store(), subnet=free_subnet(217)) as r:
        env_id = await create(plane)
        await stop_and_release(plane, env_id, r)
        name, password = await repository(plane)
        repo = tmp_path / "backups" / name

        def snapshots() -> list[str]:
            out = restic(repo, password, "snapshots", "--json", "--tag", f"env={env_id}").stdout
            return [s["id"] for s in json.loads(out or "[]")]

        assert len(snapshots()) == 1
        await plane.admin.delete(f"/api/v1/environments/{env_id}")
        await wait_phase(plane, env_id, "gone")
        assert await backup_retention.mark_orphans(plane.ctx) == 1
        await r.assembly.backups.loop.delete_due()
        assert len(snapshots()) == 1  # within the retention: kept
        plane.clock.advance(plane.ctx.settings.backup_retention_seconds + 1)
        await r.assembly.backups.loop.delete_due()
        assert snapshots() == []
        await asyncio.sleep(0)
        r2 = await plane.admin.get(f"/api/v1/environments/{env_id}/backups")
        assert r2.status_code == 404
