"""The backup step's decisions, with a fake engine and plane: when it backs up, releases,
refuses, and retries (no restic, no root)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from roost.core.errors import Conflict, PermanentError, TemporaryError
from roost.core.schemas.backups import Backup, BackupAccess
from roost.core.schemas.environments import Environment
from roost.runner.backup.errors import BackupError
from roost.runner.backup.journal import Journal, JournalStore
from roost.runner.backup.settings import BackupSettings
from roost.runner.backup.step import BackupStep, Identity
from roost.runner.idalloc import IdAllocator
from roost.runner.runtime.fake import FakeDriver
from roost.runner.state import StateStore
from roost.runner.steps import StepContext


def backup(n: int) -> Backup:
    return Backup(id=f"{n:064x}", environment_id="e1", organization_id="o", repository="org-o",
                  location="file://m/b", created_at=datetime.now(UTC))  # fmt: skip


@dataclass
class FakePlane:
    released: list[str] = field(default_factory=list)
    refuse: bool = False

    async def release(self, env_id: str, snapshot: str) -> None:
        if self.refuse:
            raise Conflict("started meanwhile")
        self.released.append(snapshot)


@dataclass
class FakeEngine:
    settings: BackupSettings
    journals: JournalStore
    plane: FakePlane = field(default_factory=FakePlane)
    latest: Backup | None = None
    fail: BackupError | None = None
    backups: int = 0

    async def access(self, env_id: str) -> BackupAccess:
        return BackupAccess(repository="org-o", password="p", latest=self.latest)

    async def back_up(self, env: Environment, files: Any, kind: str, report: Any) -> Backup:
        if self.fail:
            raise self.fail
        self.backups += 1
        self.latest = backup(self.backups)
        journal = self.journals.load(env.id)
        journal.snapshot = self.latest.id
        self.journals.save(journal)
        return self.latest


def env(runner_id: str = "r1", pinned: str | None = None) -> Environment:
    now = datetime.now(UTC).isoformat()
    return Environment.model_validate({
        "metadata": {"id": "e1", "name": "e", "organization_id": "o", "owner_id": "u",
                     "created_at": now, "updated_at": now},
        "spec": {"runner": pinned}, "status": {"runner_id": runner_id},
    })  # fmt: skip


@pytest.fixture
def step(tmp_path: Path) -> BackupStep:
    engine = FakeEngine(BackupSettings(work_dir=tmp_path), JournalStore(tmp_path / "j"))
    return BackupStep(
        engine, IdAllocator(tmp_path / "ids"), StateStore(tmp_path / "state"),  # type: ignore[arg-type]
        images=None, workspaces=tmp_path / "ws", identity=Identity("r1", "one"),  # type: ignore[arg-type]
    )  # fmt: skip


def ctx(step: BackupStep, e: Environment, reports: list[tuple[Any, ...]]) -> StepContext:
    async def report(part: str, phase: str, message: str, **details: Any) -> None:
        reports.append((part, phase, message))

    return StepContext(env=e, driver=FakeDriver(), local=None, workspace=step.workspaces / e.id,
                       report=report)  # fmt: skip


async def test_a_stop_backs_up_once_and_releases(step: BackupStep) -> None:
    engine: FakeEngine = step.engine  # type: ignore[assignment]
    reports: list[tuple[Any, ...]] = []
    await step.after_start(ctx(step, env(), reports))
    await step.after_stop(ctx(step, env(), reports))
    await step.after_stop(ctx(step, env(), reports))  # level-triggered: no second backup
    assert engine.backups == 1 and engine.plane.released == [backup(1).id] * 2
    assert reports[-1][1] == "ready" and "verified" in reports[-1][2]


async def test_a_failed_backup_keeps_the_files_and_schedules_a_retry(step: BackupStep) -> None:
    engine: FakeEngine = step.engine  # type: ignore[assignment]
    engine.latest = backup(7)
    engine.fail = BackupError("full", "backup failed: no space left on device")
    reports: list[tuple[Any, ...]] = []
    await step.after_start(ctx(step, env(), reports))
    await step.after_stop(ctx(step, env(), reports))
    assert engine.plane.released == [] and "e1" in step.tracking.retry_at
    assert reports[-1][1] == "failed"
    assert f"previous backup {backup(7).id[:8]} is intact" in reports[-1][2]


async def test_a_stale_pass_for_an_environment_of_another_runner_does_nothing(
    step: BackupStep,
) -> None:
    engine: FakeEngine = step.engine  # type: ignore[assignment]
    step.engine.journals.save(Journal("e1", local_files=True))
    await step.after_stop(ctx(step, env(runner_id="r2"), []))
    assert engine.backups == 0 and engine.plane.released == []


async def test_pinned_elsewhere_with_the_work_only_here_refuses_to_move(step: BackupStep) -> None:
    step.engine.journals.save(Journal("e1", local_files=True))
    with pytest.raises(PermanentError, match="only on runner one"):
        await step.before_start(ctx(step, env(pinned="two"), []))
    step.engine.journals.save(Journal("e1", local_files=True, quiet=True, snapshot="ab" * 32))
    with pytest.raises(TemporaryError, match="moving to runner two"):
        await step.before_start(ctx(step, env(pinned="two"), []))
    engine: FakeEngine = step.engine  # type: ignore[assignment]
    assert engine.plane.released == ["ab" * 32]


async def test_a_first_start_without_a_backup_marks_the_files_local(step: BackupStep) -> None:
    await step.before_start(ctx(step, env(), []))
    assert step.engine.journals.load("e1").local_files
