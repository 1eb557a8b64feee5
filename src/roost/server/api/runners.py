from fastapi import APIRouter, Query, status

from roost.core.schemas.base import Page
from roost.core.schemas.runners import (
    BackupLocationUpdate,
    Heartbeat,
    Runner,
    RunnerDrain,
    RunnerRegister,
    RunnerRegistered,
)
from roost.core.schemas.tokens import RegistrationTokenCreate, TokenCreated
from roost.server.api.deps import Auth, Ctx
from roost.server.services import runner_drain, runner_loss, runners

router = APIRouter(prefix="/api/v1/runners", tags=["runners"])


@router.get("")
async def list_runners(
    ctx: Ctx, who: Auth, cursor: str | None = None, limit: int = Query(100)
) -> Page[Runner]:
    return await runners.list_runners(ctx, who, cursor, limit)


@router.post("/registration-tokens", status_code=status.HTTP_201_CREATED)
async def create_registration_token(
    ctx: Ctx, who: Auth, body: RegistrationTokenCreate
) -> TokenCreated:
    return await runners.create_registration_token(ctx, who, body)


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register_runner(ctx: Ctx, body: RunnerRegister) -> RunnerRegistered:
    """Authenticated by the one-time registration token in the body."""
    return await runners.register(ctx, body)


@router.get("/{runner}")
async def get_runner(ctx: Ctx, who: Auth, runner: str) -> Runner:
    return await runners.get(ctx, who, runner)


@router.delete("/{runner}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_runner(ctx: Ctx, who: Auth, runner: str) -> None:
    await runner_loss.delete_runner(ctx, who, runner)


@router.post("/{runner}/lost")
async def declare_lost(ctx: Ctx, who: Auth, runner: str) -> Runner:
    """The runner is gone for good: its environments go back to their last backups."""
    return await runner_loss.declare_lost(ctx, who, runner)


@router.post("/{runner}/drain")
async def drain(ctx: Ctx, who: Auth, runner: str, undo: bool = False) -> RunnerDrain:
    """No new placements; move every environment off (``undo``: take placements again)."""
    return await runner_drain.drain(ctx, who, runner, on=not undo)


@router.put("/{runner}/backup-location")
async def set_backup_location(
    ctx: Ctx, who: Auth, runner: str, body: BackupLocationUpdate
) -> Runner:
    """Platform admins: where this runner keeps backups (runners sharing one restore each
    other's environments and delete each other's expired backups)."""
    return await runners.set_backup_location(ctx, who, runner, body)


@router.post("/{runner_id}/heartbeat")
async def heartbeat(ctx: Ctx, who: Auth, runner_id: str, body: Heartbeat) -> Runner:
    return await runners.heartbeat(ctx, who, runner_id, body)
