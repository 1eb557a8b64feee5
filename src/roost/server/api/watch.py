from fastapi import APIRouter, Query

from roost.core.schemas.watch import WatchResponse
from roost.server.api.deps import Auth, Ctx
from roost.server.services import watch as watch_service

router = APIRouter(prefix="/api/v1", tags=["watch"])


@router.get("/watch")
async def watch(
    ctx: Ctx,
    who: Auth,
    kind: str = "environment",
    since: int | None = Query(None, ge=0, le=2**62),  # a resource version: a 64-bit integer
    timeout: float = Query(30.0, ge=0, le=3600),
) -> WatchResponse:
    """Long poll: changes after ``since``, waiting up to ``timeout`` seconds for the first."""
    return await watch_service.watch(ctx, who, kind, since, timeout)
