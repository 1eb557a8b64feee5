"""Authentication: a bearer token becomes a :class:`Principal`, or the request is refused."""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Unauthenticated
from roost.server.services import tokens
from roost.server.services.authcache import Entry
from roost.server.services.context import Context, Principal
from roost.server.store.rows import MembershipRow, TokenRow, UserRow

LAST_USED_GRANULARITY = timedelta(minutes=1)
"""``last_used_at`` is refreshed at most this often, so reads do not each cost a write."""


async def authenticate(ctx: Context, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated(
            "authentication required: pass a token (`roost login URL --token TOKEN`, "
            "ROOST_TOKEN, or an 'Authorization: Bearer' header)"
        )
    now = ctx.clock.now()
    token_id, secret = tokens.split_token(token)
    secret_hash = tokens.hash_secret(secret)
    cached = ctx.auth_cache.get(token_id, secret_hash, now)
    if cached is not None:
        if cached.expires_at is not None and cached.expires_at <= now:
            ctx.auth_cache.forget(token_id)
        else:
            return cached.principal
    async with ctx.db.read() as session:
        row = await tokens.verify(session, token, now)
        principal = await _principal(session, row)
    ctx.auth_cache.put(token_id, Entry(principal, secret_hash, row.expires_at, now))
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_GRANULARITY:
        async with ctx.db.write() as session:
            await session.execute(
                update(TokenRow).where(TokenRow.id == row.id).values(last_used_at=now)
            )
    return principal


async def _principal(session: AsyncSession, row: TokenRow) -> Principal:
    if row.scope == "runner":
        return Principal(kind="runner", token_id=row.id, runner_id=row.runner_id)
    if row.scope == "registration":
        raise Unauthenticated("a registration token can only register a runner (`roost runner`)")
    if row.scope == "web_login":
        raise Unauthenticated("a sign-in link opens the dashboard only (open it in a browser)")
    if row.scope in ("proxy", "proxy_login"):
        raise Unauthenticated("a port-proxy session opens proxied ports only, not the API")
    if row.scope == "environment":
        # A ticket is spent by the runner route it was minted for (services/access.py); as an
        # API token it would carry its user's roles everywhere for its minute, unspent.
        raise Unauthenticated("a ticket opens the runner route it was made for, not the API")
    user = await session.get(UserRow, row.user_id) if row.user_id else None
    if user is None:
        raise Unauthenticated("invalid token")
    memberships = await session.scalars(
        select(MembershipRow).where(MembershipRow.user_id == user.id)
    )
    roles = {m.organization_id: m.role for m in memberships}
    return Principal(
        kind="user", token_id=row.id, user_id=user.id, is_admin=user.is_admin, roles=roles
    )
