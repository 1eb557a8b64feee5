from fastapi import APIRouter

from roost.core.schemas.dotfiles import Dotfiles, DotfilesUpdate
from roost.server.api.deps import Auth, Ctx
from roost.server.services import dotfiles

router = APIRouter(prefix="/api/v1", tags=["dotfiles"])


@router.put("/users/me/dotfiles")
async def set_dotfiles(ctx: Ctx, who: Auth, body: DotfilesUpdate) -> Dotfiles:
    """Your dotfiles repository, installed into each environment you create from now on."""
    return await dotfiles.put(ctx, who, body)


@router.get("/environments/{env_id}/dotfiles")
async def environment_dotfiles(ctx: Ctx, who: Auth, env_id: str) -> Dotfiles:
    """For the environment's runner only: its owner's dotfiles repository."""
    return await dotfiles.for_environment(ctx, who, env_id)
