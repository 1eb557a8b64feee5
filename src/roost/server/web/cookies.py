"""The session cookie: HttpOnly, SameSite=Lax, Secure whenever the plane is reached over TLS.

Lax rather than Strict: a sign-in from the OpenID provider ends in a cross-site redirect, and
with Strict that first page would arrive without the cookie. CSRF protection does not rest on
SameSite anyway but on the ``X-CSRF-Token`` header (``services/web_sessions.py``).
"""

from fastapi import Request, Response

from roost.core.schemas.web import SESSION_COOKIE
from roost.server.services.context import Context

FLOW_COOKIE = "roost_oidc"
FLOW_PATH = "/web/oidc/"
FLOW_SECONDS = 600


def is_secure(ctx: Context, request: Request) -> bool:
    return request.url.scheme == "https" or ctx.settings.public_url.startswith("https://")


def set_session(ctx: Context, request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(ctx.settings.web_session_seconds), path="/",
        httponly=True, samesite="lax", secure=is_secure(ctx, request),
    )  # fmt: skip


def clear_session(ctx: Context, request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_secure(ctx, request))  # fmt: skip


def set_flow(ctx: Context, request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        FLOW_COOKIE, value, max_age=FLOW_SECONDS, path=FLOW_PATH,
        httponly=True, samesite="lax", secure=is_secure(ctx, request),
    )  # fmt: skip
