"""The backup loop: what happens on a timer rather than in a reconcile pass.

* **Periodic backups** of running environments, every ``interval_seconds`` after the last
  recorded one, at most ``concurrency`` at a time, with idle I/O priority. Files change while
  restic reads them, so a periodic backup is consistent per file, not across files (like an
  rsync of a live tree; restic reads each file once, so a file changes either before or after
  it is read, and one written during the read may be torn). It protects against losing the
  runner's disk; the backup at stop, of quiet files, is the consistent one and the one a normal
  start restores.
* **Retries** of backups at stop that failed (a full target, a busy repository), with backoff,
  until one succeeds and the environment is released.
* **Backups asked for** (``roost env backup ID``) of running environments, at once.
* **Deletions**: the plane keeps the to-do list of snapshots past their retention (environments
  deleted, snapshots superseded); any runner at their location forgets them and confirms, so
  they go even when the runner that made them is gone. ``prune`` (which reclaims the space and
  needs the repository to itself) runs at most once a day per repository.

Every piece of work re-reads the environment from the plane and holds the environment's lock,
so the loop never races a reconcile pass or acts on a stale copy.
"""

import asyncio
import contextlib
import logging
import time
from typing import Any

from roost.core.errors import RoostError
from roost.core.schemas.environments import Environment
from roost.runner.backup.engine import Report, details, mib
from roost.runner.backup.errors import BackupError, explain
from roost.runner.backup.restic import Repository
from roost.runner.backup.step import BackupStep
from roost.runner.reporter import Reporter
from roost.runner.runtime.base import RuntimeDriver

log = logging.getLogger(__name__)
PRUNE_EVERY = 86400.0


class BackupLoop:
    def __init__(self, step: BackupStep, driver: RuntimeDriver, reporter: Reporter) -> None:
        self.step = step
        self.engine = step.engine
        self.settings = step.engine.settings
        self.driver = driver
        self.reporter = reporter
        self.busy: set[str] = set()
        self.next_periodic: dict[str, float] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.limit = asyncio.Semaphore(max(1, self.settings.concurrency))
        self.last_prune: dict[str, float] = {}

    async def run(self, tick: float = 5.0) -> None:
        next_deletion = 0.0
        while True:
            now = time.monotonic()
            self._start_due(now)
            if now >= next_deletion:
                next_deletion = now + self.settings.deletion_poll_seconds
                try:
                    await self.delete_due()
                except RoostError as exc:
                    log.warning("backup deletions: %s", exc.message)
                except Exception:
                    log.exception("backup deletions failed; will retry")
            await asyncio.sleep(tick)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _start_due(self, now: float) -> None:
        for env_id, due in list(self.step.tracking.retry_at.items()):
            if due <= now and env_id not in self.busy:
                self._spawn(env_id, self.retry_stop(env_id))
        for env_id, request in list(self.step.tracking.backup_now.items()):
            if env_id not in self.busy:  # asked for now (``roost env backup``)
                del self.step.tracking.backup_now[env_id]
                self.next_periodic[env_id] = now + self.settings.interval_seconds
                self._spawn(env_id, self.periodic(env_id, request))
        interval = self.settings.interval_seconds
        running = self.step.tracking.running
        for env_id in [e for e in self.next_periodic if e not in running]:
            del self.next_periodic[env_id]  # stopped: its clock starts again at the next start
        if interval <= 0:
            return
        for env_id in list(running):
            due = self.next_periodic.setdefault(env_id, self._first_due(env_id, now))
            if due <= now and env_id not in self.busy:
                self.next_periodic[env_id] = now + interval
                self._spawn(env_id, self.periodic(env_id))

    def _first_due(self, env_id: str, now: float) -> float:
        """An interval after the last recorded backup, or after now if there was none here."""
        interval = self.settings.interval_seconds
        last = self.engine.journals.load(env_id).last_backup_at or time.time()
        return now + max(0.0, last + interval - time.time())

    def _spawn(self, env_id: str, work: Any) -> None:
        self.busy.add(env_id)

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("backup work for %s failed", env_id)
            finally:
                self.busy.discard(env_id)

        task = asyncio.create_task(run(), name=f"backup-{env_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _fresh(self, env_id: str) -> Environment | None:
        """The plane's current copy, if the environment is still assigned here."""
        env = await self.engine.plane.get_environment(env_id)
        if env is None or env.status.runner_id != self.step.me.id:
            return None
        return env

    async def retry_stop(self, env_id: str) -> None:
        async with self.step.lock(env_id):
            self.step.tracking.retry_at.pop(env_id, None)
            env = await self._fresh(env_id)
            if env is None or env.spec.desired_phase != "stopped":
                return  # deleted, moved, or started again: those paths take over
            if (await self.driver.inspect(env_id)).state == "running":
                return
            await self.step.stop_backup(env, self.step.files_of(env_id), self._reporter(env))

    async def periodic(self, env_id: str, request: int = 0) -> None:
        """A backup of a running environment: on the timer, or asked for (``request``)."""
        async with self.limit, self.step.lock(env_id):
            env = await self._fresh(env_id)
            if env is None or env.spec.desired_phase != "running":
                self.step.tracking.running.pop(env_id, None)
                return
            if (await self.driver.inspect(env_id)).state != "running":
                return
            files = self.step.files_of(env_id)
            report = self._reporter(env)
            if request:  # acted on, whatever the outcome: asking again is another request
                journal = self.engine.journals.load(env_id)
                journal.backup_request = max(journal.backup_request, request)
                self.engine.journals.save(journal)
            try:
                self.step.check_disk(env_id)
                backup = await self.engine.back_up(env, files, "periodic", report)
            except BackupError as exc:
                previous = self.engine.journals.load(env_id).snapshot
                text = explain(exc, location=self.settings.location, previous=previous)
                await report("failed", f"periodic backup failed: {text}", previous=previous)
                self.next_periodic[env_id] = time.monotonic() + self.settings.retry_seconds
                return
            await report(
                "ready",
                f"backed up while running: snapshot {backup.id[:8]}, {mib(backup.size_bytes)} "
                f"({mib(backup.added_bytes)} new) in {backup.duration_seconds:.1f} s, verified",
                **details(backup),
            )  # fmt: skip

    def _reporter(self, env: Environment) -> Report:
        async def report(phase: str, message: str, **extra: object) -> None:
            await self.reporter.part(env, env.status.phase, "backup", phase, message, **extra)

        return report

    async def delete_due(self) -> None:
        """Forget the snapshots the plane says are past their retention, and confirm."""
        due = await self.engine.plane.backup_deletions(self.step.me.id)
        for item in due.items:
            repo = Repository(
                self.settings.url(item.repository), item.password, self.engine.options
            )
            prune = time.monotonic() - self.last_prune.get(item.repository, -PRUNE_EVERY)
            try:
                await repo.forget(item.snapshots, prune=prune >= PRUNE_EVERY)
            except BackupError as exc:
                log.warning("deleting backups in %s: %s", item.repository, exc.message)
                continue
            if prune >= PRUNE_EVERY:
                self.last_prune[item.repository] = time.monotonic()
            await self.engine.plane.backups_deleted(self.step.me.id, item.snapshots)
