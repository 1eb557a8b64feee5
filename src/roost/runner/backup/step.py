"""The backup step: restore before a start, back up after a stop, hand the environment back.

Hooks (see :mod:`roost.runner.steps`):

* ``before_start`` -- if this runner does not hold the environment's files (the journal says
  so) and the plane has a verified backup, restore it before the container starts; a backup
  that is missing or unreadable fails the start with a message that says so, instead of
  starting the environment empty.
* ``after_start`` -- note the environment as running, for periodic backups (``background.py``).
* ``after_stop`` -- the container is gone and the files are quiet: back up, verify, record, and
  **release**: the plane unassigns the environment (only if that snapshot is its latest
  verified backup), this runner's copy is removed by the reconciler's removal path, and the
  next start is placed on any runner that reaches the backup. If the backup fails, the
  environment stays stopped *here* with its files, the condition says why and that the previous
  backup is intact, and the background loop retries.
* ``on_remove`` -- drop local backup state. Snapshots are not deleted here: the plane deletes
  them after their retention, through any runner at their location (``background.py``).

All hooks of one environment, and the background loop's work on it, hold a per-environment lock.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roost.core.errors import PermanentError, RoostError, TemporaryError
from roost.core.schemas.backups import Backup, BackupAccess
from roost.core.schemas.environments import Environment
from roost.runner.backup.engine import BackupEngine, EnvFiles, Report, details, mib
from roost.runner.backup.errors import BackupError, explain
from roost.runner.backup.images import pin_image
from roost.runner.backup.journal import Journal
from roost.runner.idalloc import IdAllocator
from roost.runner.reconciler import ImageSource
from roost.runner.state import LocalEnv, StateStore
from roost.runner.steps import Step, StepContext

log = logging.getLogger(__name__)


@dataclass
class Identity:
    """Who this runner is (known once it has registered)."""

    id: str = ""
    name: str = ""

    def is_me(self, runner: str | None) -> bool:
        return runner is None or runner in (self.id, self.name)


@dataclass
class Tracking:
    """What the background loop needs: running environments and failed stop backups."""

    running: dict[str, Environment] = field(default_factory=dict)
    retry_at: dict[str, float] = field(default_factory=dict)
    retry_delay: dict[str, float] = field(default_factory=dict)
    backup_now: dict[str, int] = field(default_factory=dict)
    """Running environments whose user asked for a backup now, with the request's number."""


def _keep_create_hooks(env: Environment, local: LocalEnv) -> None:
    """A restored writable layer is the same container's filesystem: the devcontainer's
    create-time hooks already ran on it (as the reference CLI's markers inside the container
    would say). Without it, a start is a new container and they run again."""
    condition = env.status.conditions.get("devcontainer")
    done = condition.details.get("hooks_done") if condition else None
    if isinstance(done, list):
        local.hooks_done = [str(h) for h in done]


class BackupStep(Step):
    name = "backup"

    def __init__(
        self, engine: BackupEngine, ids: IdAllocator, state: StateStore, images: ImageSource,
        workspaces: Path, identity: Identity, clock: Callable[[], float] | None = None,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.workspaces = workspaces
        self.ids = ids
        self.state = state
        self.images = images
        self.me = identity
        self.tracking = Tracking()
        self.disk_problem: Callable[[str], str | None] = lambda env_id: None
        """What is wrong with an environment's disk (set by the assembly): a failed disk is not
        backed up, so a good backup is never superseded by files whose last writes were lost."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._clock = clock or time.monotonic

    def lock(self, env_id: str) -> asyncio.Lock:
        return self._locks.setdefault(env_id, asyncio.Lock())

    def files(self, env_id: str, workspace: Path, local: LocalEnv | None) -> EnvFiles:
        return EnvFiles(
            workspace=workspace, id_base=self.ids.find(env_id),
            image_ref=local.image_ref if local else "",
            image_digest=local.image_digest if local else "",
        )  # fmt: skip

    def files_of(self, env_id: str) -> EnvFiles:
        return self.files(env_id, self.workspaces / env_id, self.state.load(env_id))

    def leaving(self, env: Environment) -> bool:
        """Pinned to another runner (``roost env move``) while assigned here."""
        return bool(self.me.id) and not self.me.is_me(env.spec.runner)

    # -- start ----------------------------------------------------------------------------------

    async def before_start(self, ctx: StepContext) -> None:
        env = ctx.env
        self.tracking.retry_at.pop(env.id, None)
        async with self.lock(env.id):
            journal = self.engine.journals.load(env.id)
            if journal.local_files:
                if not self.me.is_me(env.spec.runner):
                    await self._move_elsewhere(env, journal.quiet, journal.snapshot)
                journal.quiet, journal.pending = False, None  # the files are about to change
                self.engine.journals.save(journal)
                return
            if "backup" not in env.status.conditions:
                # Never backed up (a backup's runner reports this condition before it records
                # the backup): a new environment starts without asking the plane.
                self.engine.journals.save(Journal(env.id, local_files=True))
                return
            access = await self._access(env)
            if access.latest is None:
                self.engine.journals.save(Journal(env.id, local_files=True))
                return
            await self._restore(ctx, access, access.latest)

    async def _restore(self, ctx: StepContext, access: BackupAccess, latest: Backup) -> None:
        env = ctx.env
        try:
            no_room = await self.engine.restore_room(env.id, access)
        except BackupError as exc:
            no_room = None  # the restore itself will say what is wrong
            log.info("sizing the restore of %s: %s", env.id, exc.message)
        if no_room is not None:
            said = env.status.conditions.get("backup")
            if said is None or said.message != no_room:  # said once: a retry does not flip it
                await ctx.report("backup", "failed", no_room, **details(latest))
            raise PermanentError(no_room, code="backup_no_room")
        await ctx.report(
            "backup", "progressing",
            f"restoring backup {latest.id[:8]} ({mib(latest.size_bytes)})", **details(latest),
        )  # fmt: skip
        if latest.writable_layer and ctx.local is not None:
            await pin_image(self.images, ctx.local, latest)
            self.state.save(ctx.local)
        if (await ctx.driver.inspect(env.id)).state != "absent":
            await ctx.driver.delete(env.id)  # leftovers of an earlier stay here: not the work
        id_base = await asyncio.to_thread(self.ids.allocate, env.id)
        try:
            seconds = await self.engine.restore(env, access, ctx.workspace, id_base)
        except BackupError as exc:
            message = self._restore_failure(exc, latest)
            await ctx.report("backup", "failed", message, **details(latest))
            if not exc.retryable or exc.kind == "full":  # a full runner: no retry each 10 s
                raise PermanentError(message) from exc
            raise TemporaryError(message, delay=10.0) from exc
        if latest.writable_layer and ctx.local is not None:
            _keep_create_hooks(env, ctx.local)
        await ctx.report(
            "backup", "ready",
            f"restored backup {latest.id[:8]} ({mib(latest.size_bytes)}) in {seconds:.1f} s",
            **details(latest), restored_seconds=round(seconds, 3),
        )  # fmt: skip

    @staticmethod
    def _restore_failure(exc: BackupError, latest: Backup) -> str:
        snap = latest.id[:8]
        if exc.kind == "corrupted":
            return (
                f"backup corrupted: snapshot {snap} failed its checksum while restoring "
                f"({exc.message}). The environment was not started empty; repair the repository "
                "(restic check --read-data) or delete the environment"
            )
        if exc.kind == "full":  # while restoring: the runner's disk, not the backup target
            return (
                f"cannot restore backup {snap}: the runner's disk filled up ({exc.message}); "
                "free space on the runner or start the environment on another runner"
            )
        if exc.kind == "missing":
            return (
                f"the environment's backup {snap} is missing from {latest.location} "
                f"({exc.message}); it was not started empty. Restore the repository from your "
                "storage's own backups, or delete the environment"
            )
        return f"cannot restore backup {snap}: {exc.message}"

    async def _move_elsewhere(self, env: Environment, quiet: bool, snapshot: str | None) -> None:
        """Pinned to another runner while its files are here: hand it over if they are backed
        up, else refuse (moving it would start it without its work)."""
        if quiet and snapshot:
            await self._release(env, snapshot)
            raise TemporaryError(f"moving to runner {env.spec.runner}", delay=5.0)
        condition = env.status.conditions.get("backup")
        why = f" (last backup: {condition.message})" if condition else ""
        raise PermanentError(
            f"the environment is pinned to runner {env.spec.runner}, but its work is only on "
            f"runner {self.me.name}, not in a verified backup{why}; start it without --runner, "
            "or stop it here so that it is backed up first"
        )

    async def after_start(self, ctx: StepContext) -> None:
        self.tracking.running[ctx.env.id] = ctx.env
        journal = self.engine.journals.load(ctx.env.id)
        if not journal.local_files:  # running here, so its files are here (an adopted one too)
            journal.local_files = True
            self.engine.journals.save(journal)
        if ctx.env.spec.backup_requested > journal.backup_request:
            self.tracking.backup_now[ctx.env.id] = ctx.env.spec.backup_requested  # the loop's

    # -- stop -----------------------------------------------------------------------------------

    async def after_stop(self, ctx: StepContext) -> None:
        """Each pass of a stopped environment: a failed backup is retried here too, so asking
        for a backup (a spec change, so a pass) retries it now."""
        self.tracking.running.pop(ctx.env.id, None)
        self.tracking.backup_now.pop(ctx.env.id, None)
        if ctx.env.status.runner_id not in (None, self.me.id):
            return  # a stale pass for an environment that is no longer ours
        async with self.lock(ctx.env.id):
            files = self.files(ctx.env.id, ctx.workspace, ctx.local)
            await self.stop_backup(ctx.env, files, lambda *a, **k: ctx.report("backup", *a, **k))

    async def stop_backup(self, env: Environment, files: EnvFiles, report: Report) -> None:
        """Back the quiet files up and release the environment; on failure keep the files,
        say why, and schedule a retry. Callers hold the environment's lock."""
        journal = self.engine.journals.load(env.id)
        if not journal.local_files:  # released before (the plane did not hear it), or never ran
            access = await self._access(env)
            await self._release(env, access.latest.id if access.latest else "")
            return
        if journal.quiet and journal.snapshot and not journal.pending:
            await self._release(env, journal.snapshot)
            return
        try:
            self.check_disk(env.id)
            backup = await self.engine.back_up(env, files, "stop", report)
        except BackupError as exc:
            await self._failed(env, exc, report)
            return
        self.tracking.retry_at.pop(env.id, None)
        self.tracking.retry_delay.pop(env.id, None)
        journal = self.engine.journals.load(env.id)
        journal.quiet = True
        self.engine.journals.save(journal)
        await report("ready", self._summary(backup), **details(backup))
        await self._release(env, backup.id)

    def check_disk(self, env_id: str) -> None:
        why = self.disk_problem(env_id)
        if why is not None:
            raise BackupError("disk", f"not backed up: {why}")

    @staticmethod
    def _summary(backup: Backup) -> str:
        what = "workspace and writable layer" if backup.writable_layer else "workspace"
        return (
            f"backed up the {what}: snapshot {backup.id[:8]}, {mib(backup.size_bytes)} "
            f"({mib(backup.added_bytes)} new) in {backup.duration_seconds:.1f} s, verified"
        )

    async def _failed(self, env: Environment, exc: BackupError, report: Report) -> None:
        delay = self.tracking.retry_delay.get(env.id, self.engine.settings.retry_seconds)
        self.tracking.retry_delay[env.id] = min(delay * 2, 1800.0)
        self.tracking.retry_at[env.id] = self._clock() + delay
        previous = await self._previous(env)
        message = explain(exc, location=self.engine.settings.location, previous=previous)
        log.warning("backup of %s failed: %s", env.id, message)
        where = f"the files stay on runner {self.me.name}; retrying in {delay:.0f} s"
        await report("failed", f"{message}; {where}", previous=previous, error=exc.kind)

    async def _previous(self, env: Environment) -> str | None:
        try:
            access = await self.engine.access(env.id)
        except BackupError:
            return self.engine.journals.load(env.id).snapshot
        return access.latest.id if access.latest else None

    async def _release(self, env: Environment, snapshot: str) -> None:
        """Ask the plane to unassign the environment; its answer decides (a start that came
        in meanwhile keeps it here, and the files are still here to start from)."""
        try:
            await self.engine.plane.release(env.id, snapshot)
        except RoostError as exc:
            if exc.code in ("not_found", "conflict", "backup_not_latest"):
                log.info("release of %s refused: %s", env.id, exc.message)
                return
            raise TemporaryError(f"telling the plane the backup is done: {exc.message}") from exc

    async def _access(self, env: Environment) -> BackupAccess:
        try:
            return await self.engine.access(env.id)
        except BackupError as exc:
            raise TemporaryError(exc.message, delay=5.0) from exc

    # -- remove ---------------------------------------------------------------------------------

    async def on_remove(self, env_id: str, workspace: Path) -> None:
        self.tracking.running.pop(env_id, None)
        self.tracking.backup_now.pop(env_id, None)
        self.tracking.retry_at.pop(env_id, None)
        self.tracking.retry_delay.pop(env_id, None)
        async with self.lock(env_id):
            await asyncio.to_thread(self.engine.forget_local, env_id)
        self._locks.pop(env_id, None)
