"""Tokens: creation, verification, revocation.

A token reads ``roost_<id>_<secret>``. The row is found by ``id``; the secret's SHA-256 is
compared with :func:`hmac.compare_digest`. A plain hash (not a slow KDF) is right here: secrets
are 256 random bits, so there is nothing to brute-force, and every API call verifies one.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Forbidden, NotFound, Unauthenticated
from roost.core.schemas.tokens import Token, TokenCreate, TokenCreated, TokenScope
from roost.server.services import audit
from roost.server.services.context import Context, Principal
from roost.server.store.rows import TokenRow, UserRow

PREFIX = "roost_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str]:
    """``roost_<id>_<secret>`` → (id, secret); raises Unauthenticated on any other shape."""
    if not token.startswith(PREFIX):
        raise Unauthenticated("malformed token: Roost tokens start with 'roost_'")
    token_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not ids.is_id(token_id) or not secret:
        raise Unauthenticated("malformed token")
    return token_id, secret


def to_schema(row: TokenRow) -> Token:
    return Token(
        id=row.id,
        name=row.name,
        scope=row.scope,
        user_id=row.user_id,
        runner_id=row.runner_id,
        environment_id=row.environment_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


async def issue(
    session: AsyncSession,
    now: datetime,
    *,
    scope: TokenScope,
    name: str = "",
    user_id: str | None = None,
    runner_id: str | None = None,
    environment_id: str | None = None,
    expires_in: float | None = None,
    created_by: str | None = None,
) -> tuple[TokenRow, str]:
    """Insert a token row inside the caller's transaction; returns the row and the plain token."""
    token_id = ids.new_id()
    secret = secrets.token_urlsafe(32)
    row = TokenRow(
        id=token_id,
        secret_hash=hash_secret(secret),
        scope=scope,
        name=name,
        user_id=user_id,
        runner_id=runner_id,
        environment_id=environment_id,
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
    )
    session.add(row)
    return row, f"{PREFIX}{token_id}_{secret}"


async def verify(session: AsyncSession, token: str, now: datetime) -> TokenRow:
    """Return the live row for ``token`` or raise :class:`Unauthenticated`.

    Every failure gives the same message, so a caller cannot tell a wrong secret from an unknown
    id; expiry and revocation say so, because the owner needs to know to make a new one.
    """
    token_id, secret = split_token(token)
    row = await session.get(TokenRow, token_id)
    expected = row.secret_hash if row else hash_secret("")
    if not hmac.compare_digest(expected, hash_secret(secret)) or row is None:
        raise Unauthenticated("invalid token")
    if row.revoked_at is not None:
        raise Unauthenticated("this token was revoked; create a new one with `roost token create`")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("this token has expired; create a new one with `roost token create`")
    return row


async def create(ctx: Context, principal: Principal, body: TokenCreate) -> TokenCreated:
    """A user token for the caller, or (admins) for another user."""
    if principal.kind != "user":
        raise Forbidden("only users can create tokens")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        user_id = principal.user_id
        if body.user is not None:
            if not principal.is_admin:
                raise Forbidden("only platform admins can create tokens for other users")
            target = await _find_user(session, body.user)
            user_id = target.id
        row, plain = await issue(
            session,
            now,
            scope="user",
            name=body.name,
            user_id=user_id,
            expires_in=body.expires_in_seconds,
            created_by=principal.user_id,
        )
        audit.record(session, now, principal, "token.create", "token", row.id)
    return TokenCreated(token=to_schema(row), secret=plain)


async def list_own(ctx: Context, principal: Principal) -> list[Token]:
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(TokenRow)
            .where(TokenRow.user_id == principal.user_id, TokenRow.scope == "user")
            .order_by(TokenRow.id)
        )
        return [to_schema(r) for r in rows]


async def revoke(ctx: Context, principal: Principal, token_id: str) -> Token:
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await session.get(TokenRow, token_id)
        if row is None or not (principal.is_admin or row.user_id == principal.user_id):
            raise NotFound(f"token {token_id} not found")
        if row.revoked_at is None:
            row.revoked_at = now
        ctx.auth_cache.forget(row.id)
        audit.record(session, now, principal, "token.revoke", "token", row.id)
        return to_schema(row)


async def revoke_for_runner(session: AsyncSession, runner_id: str, now: datetime) -> None:
    await session.execute(
        update(TokenRow)
        .where(TokenRow.runner_id == runner_id, TokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def _find_user(session: AsyncSession, ref: str) -> UserRow:
    row = await session.get(UserRow, ref) if ids.is_id(ref) else None
    if row is None:
        row = await session.scalar(select(UserRow).where(UserRow.name == ref))
    if row is None:
        raise NotFound(f"user {ref!r} not found")
    return row
