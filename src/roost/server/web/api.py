"""``/api/v1/web``: sign-in links, the browser session, the sign-in page's configuration."""

from fastapi import APIRouter, Request, Response, status

from roost.core.errors import Unauthenticated
from roost.core.schemas.web import (
    SESSION_COOKIE,
    WebConfig,
    WebLoginLink,
    WebSession,
    WebSessionCreate,
)
from roost.server.api.deps import Auth, Ctx
from roost.server.services import web_sessions
from roost.server.web import cookies

router = APIRouter(prefix="/api/v1/web", tags=["web"])


@router.get("/config")
async def config(ctx: Ctx) -> WebConfig:
    """For the sign-in page (no session yet): which ways to sign in exist."""
    oidc = ctx.settings.oidc
    return WebConfig(oidc=oidc is not None, oidc_name=oidc.name if oidc else "")


@router.post("/login-links", status_code=status.HTTP_201_CREATED)
async def create_login_link(ctx: Ctx, who: Auth) -> WebLoginLink:
    """A one-use link (a minute) that signs a browser in as the caller: `roost login --web`."""
    return await web_sessions.login_link(ctx, who)


@router.post("/sign-in", status_code=status.HTTP_201_CREATED)
async def create_session(
    ctx: Ctx, request: Request, response: Response, body: WebSessionCreate
) -> WebSession:
    """Spend a sign-in link's code; the session goes into an HttpOnly cookie."""
    session, token = await web_sessions.exchange(ctx, body.code)
    cookies.set_session(ctx, request, response, token)
    return session


@router.get("/session")
async def get_session(ctx: Ctx, who: Auth, request: Request) -> WebSession:
    """Who is signed in, and the CSRF token to send with every change."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthenticated("not signed in to the dashboard")
    return await web_sessions.describe(ctx, who, token)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(ctx: Ctx, who: Auth, request: Request, response: Response) -> None:
    """Sign out: the session is revoked, not just forgotten by this browser."""
    await web_sessions.end(ctx, who)
    cookies.clear_session(ctx, request, response)
