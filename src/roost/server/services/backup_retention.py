"""Deleting backups: after their retention, wherever the runner that made them went.

Deleting an environment does not delete its backups at once -- a deletion by mistake can be
undone by an administrator within the retention (``Settings.backup_retention_seconds``,
7 days by default). :func:`mark_orphans` (run by a plane loop) gives every kept backup whose
environment no longer exists a ``delete_after``; superseded backups get one when they are
superseded (``backups.record``).

A runner's location is set by admins (at registration or ``PUT
/runners/{runner}/backup-location``); its heartbeats cannot change it, since a runner that named
another's location would be handed that location's repository passwords.

The plane cannot forget a restic snapshot itself (it holds no backup data and may not reach the
repository), and the runner that made one may be gone. So the rows are a to-do list:
:func:`due` gives a runner the snapshots past their time *at its own location*, with the
repositories' keys; the runner forgets them and confirms with :func:`done`, which drops the
rows. A runner that dies half-way confirms nothing, and the next one repeats the work (forgetting
a forgotten snapshot is a no-op).
"""

from datetime import timedelta

from sqlalchemy import delete, select, update

from roost.core.errors import NotFound
from roost.core.schemas.backups import BackupDeletion, BackupDeletions, BackupsDeleted
from roost.core.schemas.runners import RunnerInfo
from roost.server.services import audit, crypto, repository_keys
from roost.server.services.context import Context, Principal
from roost.server.store.rows import BackupRepositoryRow, BackupRow, EnvironmentRow, RunnerRow

BATCH = 500


async def mark_orphans(ctx: Context) -> int:
    """Start the retention of kept backups whose environment is gone; returns how many."""
    now = ctx.clock.now()
    after = now + timedelta(seconds=ctx.settings.backup_retention_seconds)
    async with ctx.db.write() as session:
        result = await session.execute(
            update(BackupRow)
            .where(
                BackupRow.state == "kept",
                BackupRow.environment_id.not_in(select(EnvironmentRow.id)),
            )
            .values(state="deleting", delete_after=after)
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def _location(ctx: Context, principal: Principal, runner_id: str, action: str) -> str:
    if principal.kind != "runner" or principal.runner_id != runner_id:
        await audit.record_denied(ctx, principal, action, "runner", runner_id, "not this runner")
        raise NotFound(f"runner {runner_id} not found")
    async with ctx.db.read() as session:
        row = await session.get(RunnerRow, runner_id)
        location = RunnerInfo(**row.info).backup_location if row else None
    return location or ""


async def due(ctx: Context, principal: Principal, runner_id: str) -> BackupDeletions:
    """Snapshots past their retention at the calling runner's backup location."""
    location = await _location(ctx, principal, runner_id, "backup.deletions")
    if not location:
        return BackupDeletions()
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(BackupRow.id, BackupRow.repository, BackupRepositoryRow.password)
            .join(BackupRepositoryRow, BackupRepositoryRow.id == BackupRow.repository)
            .where(
                BackupRow.state == "deleting",
                BackupRow.delete_after <= ctx.clock.now(),
                BackupRow.location == location,
            )
            .order_by(BackupRow.repository, BackupRow.id)
            .limit(BATCH)
        )
        box = crypto.box(ctx.settings.data_dir)
        grouped: dict[str, BackupDeletion] = {}
        for snapshot, repository, sealed in rows:
            item = grouped.get(repository)
            if item is None:
                password = repository_keys.open_password(box, repository, sealed)
                item = grouped[repository] = BackupDeletion(
                    repository=repository, password=password, snapshots=[]
                )
            item.snapshots.append(snapshot)
    return BackupDeletions(items=list(grouped.values()))


async def done(ctx: Context, principal: Principal, runner_id: str, body: BackupsDeleted) -> None:
    """The runner forgot these snapshots: drop their rows (only due ones at its location)."""
    location = await _location(ctx, principal, runner_id, "backup.delete")
    if not location:
        return
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        rows = await session.execute(
            select(BackupRow.id, BackupRow.organization_id).where(
                BackupRow.id.in_(body.snapshots),
                BackupRow.state == "deleting",
                BackupRow.delete_after <= now,
                BackupRow.location == location,
            )
        )
        by_org: dict[str, list[str]] = {}
        for snapshot, org in rows:
            by_org.setdefault(org, []).append(snapshot)
        for org, snapshots in by_org.items():  # each organization's audit log shows its own
            await session.execute(delete(BackupRow).where(BackupRow.id.in_(snapshots)))
            audit.record(session, now, principal, "backup.delete", "runner", runner_id,
                         organization_id=org, details={"snapshots": len(snapshots)})  # fmt: skip
