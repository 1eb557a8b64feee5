"""Backups on the plane: the record of verified snapshots, repository keys, and release.

The plane never touches backup data -- runners run restic next to the files. It keeps:

* **repositories** (one per project; one per organization for environments without a project,
  so that environments of one project deduplicate against each other) and their restic
  password: 256 random bits made on first use, handed only to the runner an environment is
  assigned to, through a runner-authenticated call. Any runner can then restore any
  environment it is given. At rest the password is sealed under the secrets master key
  (:mod:`roost.server.services.repository_keys`): the database alone does not open backups.
* **the record** of verified snapshots (``backups``). A runner records a snapshot only after
  verifying it; the highest ``seq`` of an environment is its latest backup, the one a start
  restores. Each record marks all but the newest ``KEEP`` of that environment for deletion.
* **release**: the runner says "everything of this environment I hold is in snapshot S". The
  plane unassigns the environment only if S is its latest recorded backup and it should not run
  here -- so an environment is never without a runner unless its work is in a verified backup.

**Backup now** (``request``): a user raises ``spec.backup_requested``; the environment's runner
backs a running environment up at once, or retries a stopped one's failed backup instead of
waiting for its back-off.

Deletion after retention is in :mod:`roost.server.services.backup_retention`.
"""

import contextlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict, InvalidInput, NotFound
from roost.core.schemas.backups import Backup, BackupAccess, BackupRecord, BackupRelease
from roost.core.schemas.environments import Environment, EnvironmentSpec, EnvironmentStatus
from roost.core.schemas.runners import RunnerInfo
from roost.server.services import (
    audit,
    crypto,
    environment_status,
    environments,
    move_progress,
    repository_keys,
)
from roost.server.services.context import Context, Principal
from roost.server.store.rows import (
    BackupRepositoryRow,
    BackupRow,
    EnvironmentRow,
    ProjectRow,
    RunnerRow,
)

KEEP = 2
"""Verified backups kept per environment: the latest, and the one before it."""


def to_schema(row: BackupRow) -> Backup:
    return Backup(
        id=row.id, environment_id=row.environment_id, organization_id=row.organization_id,
        project_id=row.project_id, repository=row.repository, location=row.location,
        kind=row.kind, state=row.state, size_bytes=row.size_bytes,
        added_bytes=row.added_bytes, files=row.files, duration_seconds=row.duration_seconds,
        writable_layer=row.writable_layer, image_ref=row.image_ref,
        image_digest=row.image_digest, runner_id=row.runner_id, created_at=row.created_at,
        delete_after=row.delete_after,
    )  # fmt: skip


def repository_id(row: EnvironmentRow) -> str:
    return f"project-{row.project_id}" if row.project_id else f"org-{row.organization_id}"


async def latest(session: AsyncSession, env_id: str) -> BackupRow | None:
    return await session.scalar(
        select(BackupRow)
        .where(BackupRow.environment_id == env_id, BackupRow.state == "kept")
        .order_by(BackupRow.seq.desc())
        .limit(1)
    )


async def latest_location(session: AsyncSession, env_id: str) -> str | None:
    """Where the environment's latest backup is (placement keeps to runners there)."""
    row = await latest(session, env_id)
    return row.location if row else None


async def _runner_env(ctx: Context, principal: Principal, env_id: str, action: str) -> None:
    """Runners only, and only for environments assigned to them; refusals are audited."""
    if principal.kind == "runner":
        async with ctx.db.read() as session:
            with contextlib.suppress(NotFound):
                await environments.load(session, principal, env_id)
                return
    await audit.record_denied(
        ctx, principal, action, "environment", env_id, "not the environment's runner"
    )
    raise NotFound(f"environment {env_id} not found")


async def _repository(
    session: AsyncSession, env: EnvironmentRow, ctx: Context
) -> BackupRepositoryRow:
    repo_id = repository_id(env)
    found = await session.get(BackupRepositoryRow, repo_id)
    if found is not None:
        return found
    box = crypto.box(ctx.settings.data_dir)
    sealed = repository_keys.seal(box, repo_id, repository_keys.new_password())
    row = BackupRepositoryRow(
        id=repo_id, organization_id=env.organization_id, project_id=env.project_id,
        password=sealed, created_at=ctx.clock.now(),
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another replica made it first
        found = await session.get(BackupRepositoryRow, repo_id)
        if found is None:
            raise
        return found
    return row


async def access(ctx: Context, principal: Principal, env_id: str) -> BackupAccess:
    await _runner_env(ctx, principal, env_id, "backup.access")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        env = await environments.load(session, principal, env_id)
        repo = await _repository(session, env, ctx)
        keep = EnvironmentSpec.model_validate(env.spec).resources.keep_writable_layer
        if not keep and env.project_id:
            project = await session.get(ProjectRow, env.project_id)
            keep = bool(project and project.settings.get("keep_writable_layer"))
        last = await latest(session, env_id)
        audit.record(session, now, principal, "backup.access", "environment", env_id,
                     organization_id=env.organization_id)  # fmt: skip
        box = crypto.box(ctx.settings.data_dir)
        password = repository_keys.open_password(box, repo.id, repo.password)
        if not repository_keys.is_sealed(repo.password):  # a row from before sealing
            repo.password = repository_keys.seal(box, repo.id, password)
        return BackupAccess(
            repository=repo.id, password=password, keep_writable_layer=keep,
            latest=to_schema(last) if last else None,
        )  # fmt: skip


async def record(ctx: Context, principal: Principal, env_id: str, body: BackupRecord) -> Backup:
    """A runner's verified snapshot becomes the environment's latest backup (idempotent)."""
    await _runner_env(ctx, principal, env_id, "backup.record")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        env = await environments.load(session, principal, env_id, for_update=True)
        if body.repository != repository_id(env):
            raise InvalidInput(f"environment {env_id} backs up to {repository_id(env)}")
        runner = await session.get(RunnerRow, principal.runner_id)
        location = RunnerInfo(**runner.info).backup_location if runner else None
        if body.location != location:  # else it would be handed to the runners there
            raise InvalidInput(f"this runner's backups are at {location}, its admin says")
        existing = await session.get(BackupRow, body.snapshot)
        if existing is not None:
            return to_schema(existing)
        seq = await session.scalar(
            select(func.max(BackupRow.seq)).where(BackupRow.environment_id == env_id)
        )
        row = BackupRow(
            id=body.snapshot, environment_id=env_id, seq=(seq or 0) + 1,
            organization_id=env.organization_id, project_id=env.project_id,
            repository=body.repository, location=body.location, kind=body.kind, state="kept",
            size_bytes=body.size_bytes, added_bytes=body.added_bytes, files=body.files,
            duration_seconds=body.duration_seconds, writable_layer=body.writable_layer,
            image_ref=body.image_ref, image_digest=body.image_digest,
            runner_id=principal.runner_id, created_at=now,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        await _supersede(session, env_id, ctx)
        audit.record(session, now, principal, "backup.record", "environment", env_id,
                     organization_id=env.organization_id,
                     details={"snapshot": body.snapshot, "kind": body.kind})  # fmt: skip
        return to_schema(row)


async def _supersede(session: AsyncSession, env_id: str, ctx: Context) -> None:
    """All but the newest ``KEEP`` backups of the environment go (no retention: newer verified
    backups of the same environment exist)."""
    old = await session.scalars(
        select(BackupRow)
        .where(BackupRow.environment_id == env_id, BackupRow.state == "kept")
        .order_by(BackupRow.seq.desc())
        .offset(KEEP)
    )
    for row in old:
        row.state, row.delete_after = "deleting", ctx.clock.now()


async def release(
    ctx: Context, principal: Principal, env_id: str, body: BackupRelease
) -> Environment:
    """Unassign the environment from the calling runner, whose copy is all in ``snapshot``."""
    await _runner_env(ctx, principal, env_id, "environment.release")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        env = await environments.load(session, principal, env_id, for_update=True)
        last = await latest(session, env_id)
        # "" is "I hold no files of it, and it has no backup" (placed here, never started):
        # there is nothing to lose, and refusing would strand it here.
        if (last.id if last else "") != body.snapshot:
            raise Conflict(
                f"snapshot {body.snapshot[:8]} is not the latest verified backup of {env_id}",
                code="backup_not_latest",
            )
        runner = await session.get(RunnerRow, principal.runner_id)
        spec = EnvironmentSpec.model_validate(env.spec)
        elsewhere = bool(spec.runner) and runner is not None and spec.runner not in (
            runner.id, runner.name,
        )  # fmt: skip
        movable = env.desired_phase == "stopped" or (env.desired_phase == "running" and elsewhere)
        if not movable:
            raise Conflict(f"environment {env_id} is {env.desired_phase} here; not released")
        # A stopped environment stays stopped even when pinned elsewhere: "moving" is only for
        # one that should run there (else `stop --wait` would wait on "pending" forever).
        moving_to = spec.runner if elsewhere and env.desired_phase == "running" else None
        status, phase = _released(env, last, now, moving_to=moving_to)
        await environment_status.write(
            session, env, now, status, phase, runner_id=None, reassign=True
        )
        audit.record(session, now, principal, "environment.release", "environment", env_id,
                     organization_id=env.organization_id,
                     details={"snapshot": body.snapshot})  # fmt: skip
        return environments.to_schema(env)


def _released(
    env: EnvironmentRow, last: BackupRow | None, now: datetime, moving_to: str | None
) -> tuple[EnvironmentStatus, str]:
    status = EnvironmentStatus(**env.status)
    status.observed_spec_version = env.spec_version
    snap = last.id[:8] if last else ""
    if moving_to:
        text = f"moving to runner {moving_to} " + (
            f"(work in backup {snap})" if last else "(it never ran: nothing to carry)"
        )
        status.conditions["scheduled"] = environment_status.condition("pending", text, now)
        step = f"backed up ({snap}); starting there" if last else "starting there"
        move_progress.set_step(status, step, now)
        phase = "pending"
    else:
        text = (f"stopped; work kept in backup {snap} (a start restores it on any runner)"
                if last else "stopped; it never ran, so there is no work to keep")  # fmt: skip
        phase = "stopped"
    status.message = text
    status.conditions["machine"] = environment_status.condition("ready", text, now)
    return status, phase


async def list_for_environment(ctx: Context, principal: Principal, env_id: str) -> list[Backup]:
    async with ctx.db.read() as session:
        await environments.load(session, principal, env_id)
        rows = await session.scalars(
            select(BackupRow)
            .where(BackupRow.environment_id == env_id)
            .order_by(BackupRow.seq.desc())
        )
        return [to_schema(r) for r in rows]


async def request(ctx: Context, principal: Principal, env_id: str) -> Environment:
    """Ask the environment's runner for a backup now (authorized like stop)."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await environments.load(session, principal, env_id, for_update=True)
        if principal.kind == "runner":
            raise NotFound("runners do not change specs")
        if row.runner_id is None or row.desired_phase == "deleted":
            last = await latest(session, env_id)
            where = f"its work is in backup {last.id[:8]}" if last else "it has no files yet"
            raise Conflict(
                f"environment {env_id} is on no runner ({where}): nothing to back up",
                code="nothing_to_back_up",
            )
        spec = EnvironmentSpec.model_validate(row.spec)
        spec.backup_requested += 1
        environments.replace_spec(row, spec)
        await environments.emit(session, row, now, "MODIFIED")
        audit.record(session, now, principal, "environment.backup", "environment", env_id,
                     organization_id=row.organization_id)  # fmt: skip
        return environments.to_schema(row)
