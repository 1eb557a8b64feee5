"""The page, its assets, and the OpenID Connect round trip.

The page is one HTML document (``static/index.html``) under a Content-Security-Policy that allows
scripts and styles from the plane only (styles also inline: xterm.js writes its theme into a
``<style>`` element), connections to the plane and to the runners' access addresses (terminals
and logs; read when the page is served, so a runner added later needs a reload), no frames and
no plugins.
"""

from importlib import resources
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from roost.core.errors import RoostError
from roost.server.api.deps import Ctx
from roost.server.services import oidc, web_sessions
from roost.server.web import cookies

STATIC = resources.files("roost.server.web") / "static"
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY", "Cache-Control": "no-store",
}  # fmt: skip


def content_security_policy(runner_origins: list[str]) -> str:
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:", "font-src 'self'",
        " ".join(["connect-src 'self'", *runner_origins]),
        "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ])  # fmt: skip


router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(STATIC))


@router.get("/")
async def index(ctx: Ctx) -> Response:
    csp = content_security_policy(await web_sessions.runner_origins(ctx))
    headers = {**PAGE_HEADERS, "Content-Security-Policy": csp}
    return FileResponse(str(STATIC / "index.html"), headers=headers)


@router.get("/web/oidc/start")
async def oidc_start(ctx: Ctx, request: Request) -> Response:
    config = ctx.settings.oidc
    if config is None:
        return _back_with_error("OpenID Connect sign-in is not configured on this plane")
    flow = oidc.new_flow()
    try:
        url = await oidc.authorization_url(ctx, config, flow)
    except RoostError as exc:
        return _back_with_error(exc.message)
    response = RedirectResponse(url, status_code=303)
    cookies.set_flow(ctx, request, response, flow.encode())
    return response


@router.get("/web/oidc/callback")
async def oidc_callback(
    ctx: Ctx, request: Request, code: str = "", state: str = "", error: str = ""
) -> Response:
    config = ctx.settings.oidc
    if config is None or error or not code:
        return _back_with_error(f"the sign-in was not completed ({error or 'no code'})")
    try:
        flow = oidc.Flow.decode(request.cookies.get(cookies.FLOW_COOKIE, ""))
        user_id = await oidc.sign_in(ctx, config, flow, code, state)
        _, token = await web_sessions.start(ctx, user_id, how="oidc")
    except RoostError as exc:
        return _back_with_error(exc.message)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(cookies.FLOW_COOKIE, path=cookies.FLOW_PATH)
    cookies.set_session(ctx, request, response, token)
    return response


def _back_with_error(message: str) -> Response:
    return RedirectResponse(f"/#signin-error={quote(message)}", status_code=303)
