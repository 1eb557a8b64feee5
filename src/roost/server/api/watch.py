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
    since: int | None = None,
    timeout: float = Query(30.0),
) -> WatchResponse:
    """Long poll: changes after ``since``, waiting up to ``timeout`` seconds for the first."""
    return await watch_service.watch(ctx, who, kind, since, timeout)
