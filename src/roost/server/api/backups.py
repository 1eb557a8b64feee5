"""Backups: users read an environment's backups; runners get keys, record, release, delete."""

from fastapi import APIRouter

from roost.core.schemas.backups import (
    Backup,
    BackupAccess,
    BackupDeletions,
    BackupRecord,
    BackupRelease,
    BackupsDeleted,
)
from roost.core.schemas.environments import Environment
from roost.server.api.deps import Auth, Ctx
from roost.server.services import backup_retention, backups

router = APIRouter(prefix="/api/v1", tags=["backups"])


@router.get("/environments/{env_id}/backups")
async def list_backups(ctx: Ctx, who: Auth, env_id: str) -> list[Backup]:
    """The environment's verified backups, newest first."""
    return await backups.list_for_environment(ctx, who, env_id)


@router.get("/environments/{env_id}/backups/access")
async def backup_access(ctx: Ctx, who: Auth, env_id: str) -> BackupAccess:
    """For the environment's runner: its repository, the key, and the latest backup."""
    return await backups.access(ctx, who, env_id)


@router.post("/environments/{env_id}/backups", status_code=201)
async def record_backup(ctx: Ctx, who: Auth, env_id: str, body: BackupRecord) -> Backup:
    """For the environment's runner: a snapshot that passed verification."""
    return await backups.record(ctx, who, env_id, body)


@router.post("/environments/{env_id}/backup")
async def request_backup(ctx: Ctx, who: Auth, env_id: str) -> Environment:
    """Back the environment up now (a running one), or retry its failed backup (a stopped one)."""
    return await backups.request(ctx, who, env_id)


@router.post("/environments/{env_id}/release")
async def release_environment(ctx: Ctx, who: Auth, env_id: str, body: BackupRelease) -> Environment:
    """For the environment's runner: all it holds is in ``snapshot``; unassign it."""
    return await backups.release(ctx, who, env_id, body)


@router.get("/runners/{runner_id}/backup-deletions")
async def backup_deletions(ctx: Ctx, who: Auth, runner_id: str) -> BackupDeletions:
    """For runners: snapshots past their retention at this runner's backup location."""
    return await backup_retention.due(ctx, who, runner_id)


@router.post("/runners/{runner_id}/backup-deletions", status_code=204)
async def backups_deleted(ctx: Ctx, who: Auth, runner_id: str, body: BackupsDeleted) -> None:
    """For runners: these snapshots were forgotten."""
    await backup_retention.done(ctx, who, runner_id, body)
