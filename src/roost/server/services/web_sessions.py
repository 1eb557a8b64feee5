"""Dashboard sign-in (protocol in :mod:`roost.core.schemas.web`).

A session is a token row of scope ``web``: revocable like any token, checked by the same code
(:mod:`~roost.server.services.auth`), so the dashboard is one more client of the same API. Its
CSRF token is derived from the session's secret (an HMAC), so nothing more is stored and only a
page that could read the session's own answer -- same origin -- can know it.
"""

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from roost.core.errors import Forbidden, Unauthenticated
from roost.core.schemas.web import WebLoginLink, WebSession
from roost.server.services import audit, tokens
from roost.server.services.context import Context, Principal
from roost.server.store.rows import RunnerRow, TokenRow, UserRow

LOGIN_SECONDS = 60
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"roost-csrf", hashlib.sha256).hexdigest()


def check_csrf(session_token: str, method: str, header: str | None) -> None:
    """A cookie-authenticated request that changes something must prove it came from our page."""
    if method.upper() in SAFE_METHODS:
        return
    if not header or not hmac.compare_digest(header, csrf_token(session_token)):
        raise Forbidden(
            "missing or wrong X-CSRF-Token: requests signed in by the dashboard's cookie must "
            "send the token from GET /api/v1/web/session",
            code="csrf",
        )


async def login_link(ctx: Context, principal: Principal) -> WebLoginLink:
    """A one-use link that signs a browser in as the caller."""
    if principal.kind != "user":
        raise Forbidden("only users can sign in to the dashboard")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row, code = await tokens.issue(
            session, now, scope="web_login", name="dashboard login", user_id=principal.user_id,
            expires_in=LOGIN_SECONDS, created_by=principal.user_id,
        )  # fmt: skip
        audit.record(session, now, principal, "web.login_link", "token", row.id)
    base = ctx.settings.public_url.rstrip("/")
    # in the fragment: browsers never send it, so no server or proxy logs it
    return WebLoginLink(
        url=f"{base}/#login={code}", expires_at=now + timedelta(seconds=LOGIN_SECONDS)
    )


async def exchange(ctx: Context, code: str) -> tuple[WebSession, str]:
    """Spend a login link's code; returns the session and its token (for the cookie)."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        try:
            row = await tokens.verify(session, code, now)
        except Unauthenticated as exc:
            raise Unauthenticated(
                "this sign-in link is not valid (used, expired or mistyped); "
                "print a new one with `roost login --web`"
            ) from exc
        if row.scope != "web_login" or row.user_id is None:
            raise Unauthenticated("this is not a sign-in link; print one with `roost login --web`")
        row.revoked_at = now  # one use
        user_id = row.user_id
    return await start(ctx, user_id, how="link")


async def start(ctx: Context, user_id: str, *, how: str) -> tuple[WebSession, str]:
    """A new browser session for ``user_id`` (after a link or an OpenID Connect sign-in)."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        user = await session.get(UserRow, user_id)
        if user is None:
            raise Unauthenticated("this user no longer exists")
        row, plain = await tokens.issue(
            session, now, scope="web", name=f"dashboard ({how})", user_id=user.id,
            expires_in=ctx.settings.web_session_seconds, created_by=user.id,
        )  # fmt: skip
        principal = Principal(kind="user", token_id=row.id, user_id=user.id)
        audit.record(session, now, principal, "web.sign_in", "token", row.id,
                     details={"how": how})  # fmt: skip
        return _schema(ctx, user, row, plain), plain


async def describe(ctx: Context, principal: Principal, session_token: str) -> WebSession:
    async with ctx.db.read() as session:
        user = await session.get(UserRow, principal.user_id)
        row = await session.get(TokenRow, principal.token_id)
        if user is None or row is None or row.scope != "web":
            raise Unauthenticated("not signed in to the dashboard")
        return _schema(ctx, user, row, session_token)


async def end(ctx: Context, principal: Principal) -> None:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await session.scalar(
            select(TokenRow).where(TokenRow.id == principal.token_id, TokenRow.scope == "web")
        )
        if row is not None and row.revoked_at is None:
            row.revoked_at = now
            audit.record(session, now, principal, "web.sign_out", "token", row.id)
    ctx.auth_cache.forget(principal.token_id)


def _schema(ctx: Context, user: UserRow, row: TokenRow, plain: str) -> WebSession:
    return WebSession(
        user_id=user.id, user_name=user.name, is_admin=user.is_admin,
        csrf_token=csrf_token(plain), expires_at=row.expires_at,
        oidc=ctx.settings.oidc is not None,
    )  # fmt: skip


async def runner_origins(ctx: Context) -> list[str]:
    """Where the page may connect besides the plane: each runner's access address, over HTTP
    (logs) and WebSocket (terminals) -- for the page's Content-Security-Policy."""
    async with ctx.db.read() as session:
        infos = await session.scalars(select(RunnerRow.info))
        urls = {str(info.get("access_url") or "") for info in infos}
    origins: set[str] = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            ws = "wss" if parts.scheme == "https" else "ws"
            origins |= {f"{parts.scheme}://{parts.netloc}", f"{ws}://{parts.netloc}"}
    return sorted(origins)
