"""Wiring: the backup step and its background loop, built from the runner's config."""

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from roost.runner.backup.background import BackupLoop
from roost.runner.backup.engine import BackupEngine
from roost.runner.backup.journal import JournalStore
from roost.runner.backup.settings import BackupSettings
from roost.runner.backup.step import BackupStep, Identity
from roost.runner.client import PlaneClient
from roost.runner.config import RunnerConfig
from roost.runner.idalloc import IdAllocator
from roost.runner.reconciler import ImageSource
from roost.runner.reporter import Reporter
from roost.runner.runtime.base import RuntimeDriver
from roost.runner.state import StateStore


def settings_from(config: RunnerConfig) -> BackupSettings:
    return BackupSettings(
        work_dir=config.data_dir / "backup", repository=config.backup_repository,
        interval_seconds=config.backup_interval_seconds,
        limit_upload_kib=config.backup_limit_upload_kib,
        limit_download_kib=config.backup_limit_download_kib,
    )  # fmt: skip


@dataclass
class Backups:
    step: BackupStep
    loop: BackupLoop
    task: asyncio.Task[None] | None = None

    @classmethod
    def start(
        cls, config: RunnerConfig, client: PlaneClient, runner_id: str, driver: RuntimeDriver,
        envs_root: Path, ids: IdAllocator, state: StateStore, images: ImageSource,
        reporter: Reporter, workspaces: Path, settings: BackupSettings | None = None,
    ) -> "Backups":  # fmt: skip
        settings = settings or settings_from(config)
        settings.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        journals = JournalStore(settings.work_dir / "journal")
        engine = BackupEngine(settings, client, envs_root, journals)
        identity = Identity(id=runner_id, name=config.name)
        step = BackupStep(engine, ids, state, images, workspaces, identity)
        loop = BackupLoop(step, driver, reporter)
        backups = cls(step, loop)
        backups.task = asyncio.create_task(loop.run(), name="backups")
        return backups

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.loop.close()
