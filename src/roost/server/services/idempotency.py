"""Idempotent creates: the same ``Idempotency-Key`` from the same user gets the same environment.

A client that loses the answer to a create (the plane died as it answered, a proxy cut the
connection) cannot know whether the environment exists; with a key it simply sends the request
again. The key is stored with the environment it created, in the creating transaction, so "the
environment exists" and "the key is taken" are one fact. Keys are per user, live
:data:`LIFETIME`, and the same key with a different request is refused (a client bug, not a
retry). Two racing requests with one key: the second transaction fails on the primary key and
answers with the first one's environment.
"""

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict, InvalidInput
from roost.core.schemas.environments import Environment, EnvironmentCreate
from roost.server.services import environments
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, IdempotencyKeyRow

LIFETIME = timedelta(hours=24)
MAX_KEY = 128


async def create(
    ctx: Context, principal: Principal, body: EnvironmentCreate, key: str | None
) -> Environment:
    if key is None or principal.user_id is None:
        return await environments.create(ctx, principal, body)
    if not 0 < len(key) <= MAX_KEY or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY} printable characters")
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    user_id = principal.user_id
    found = await _replay(ctx, principal, user_id, key, digest)
    if found is not None:
        return found

    async def remember(session: AsyncSession, row: EnvironmentRow) -> None:
        now = ctx.clock.now()
        await session.execute(
            delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < now - LIFETIME)
        )
        session.add(IdempotencyKeyRow(user_id=user_id, key=key, request_hash=digest,
                                      environment_id=row.id, created_at=now))  # fmt: skip

    try:
        return await environments.create(ctx, principal, body, on_created=remember)
    except IntegrityError:  # the same key raced us and won: answer with its environment
        found = await _replay(ctx, principal, user_id, key, digest)
        if found is None:
            raise
        return found


async def _replay(
    ctx: Context, principal: Principal, user_id: str, key: str, digest: str
) -> Environment | None:
    async with ctx.db.read() as session:
        row = await session.get(IdempotencyKeyRow, (user_id, key))
        if row is None or _expired(row, ctx.clock.now()):
            return None
        if row.request_hash != digest:
            raise Conflict(
                f"Idempotency-Key {key!r} was used for a different request; use a new key",
                code="idempotency_key_reused",
            )
        env = await session.get(EnvironmentRow, row.environment_id)
        if env is None:
            raise Conflict(
                f"the environment created with Idempotency-Key {key!r} ({row.environment_id}) "
                "was deleted since; use a new key to create another",
                code="idempotency_key_reused",
            )
        return environments.to_schema(await environments.load(session, principal, env.id))


def _expired(row: IdempotencyKeyRow, now: datetime) -> bool:
    return row.created_at < now - LIFETIME
