"""Request dependencies: the service context and the authenticated principal."""

from typing import Annotated

from fastapi import Depends, Request

from roost.core.schemas.web import CSRF_HEADER, SESSION_COOKIE
from roost.server.services import auth, web_sessions
from roost.server.services.context import Context, Principal


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return None


async def get_principal(request: Request, ctx: Annotated[Context, Depends(get_ctx)]) -> Principal:
    """A bearer token, else the dashboard's session cookie (with its CSRF header to change
    anything): the dashboard is a client of this same API."""
    token = bearer(request)
    cookie = request.cookies.get(SESSION_COOKIE) if token is None else None
    if cookie:
        web_sessions.check_csrf(cookie, request.method, request.headers.get(CSRF_HEADER))
        token = cookie
    return await auth.authenticate(ctx, token)


Ctx = Annotated[Context, Depends(get_ctx)]
Auth = Annotated[Principal, Depends(get_principal)]
