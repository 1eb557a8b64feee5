from fastapi import APIRouter, Path

from roost.core.schemas.proxy import (
    ProxyAuthorize,
    ProxyDecision,
    ProxyLogin,
    ProxySession,
    ProxySessionCreate,
)
from roost.server.api.deps import Auth, Ctx
from roost.server.services import proxy_access

router = APIRouter(prefix="/api/v1", tags=["proxy"])


@router.post("/environments/{env_id}/ports/{port}/login")
async def proxy_login(
    ctx: Ctx, who: Auth, env_id: str, port: int = Path(ge=1, le=65535)
) -> ProxyLogin:
    """A one-use link that logs a browser in to a proxied port (owner or organization member)."""
    return await proxy_access.login(ctx, who, env_id, port)


@router.post("/runners/{runner_id}/proxy/sessions")
async def create_proxy_session(
    ctx: Ctx, who: Auth, runner_id: str, body: ProxySessionCreate
) -> ProxySession:
    """For runners: exchange a login link's token for a proxy session (the cookie)."""
    return await proxy_access.create_session(ctx, who, runner_id, body)


@router.post("/runners/{runner_id}/proxy/authorize")
async def authorize_proxy(
    ctx: Ctx, who: Auth, runner_id: str, body: ProxyAuthorize
) -> ProxyDecision:
    """For runners: may this request reach this port? Refusals are audited."""
    return await proxy_access.authorize(ctx, who, runner_id, body)
