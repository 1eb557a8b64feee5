"""Row leases, so that several plane replicas can run the same controllers safely.

A controller *acquires* a row by writing a fresh random ``lock_token`` and an expiry, only where
the row has no lease or its lease expired. It then works with no transaction open (reading,
deciding, maybe calling out), and *applies* its result in a new transaction whose UPDATE is
guarded by ``lock_token = <its token>``. If the lease expired meanwhile and another replica took
the row, the guard matches nothing and the stale result is dropped -- the other replica's pass
will decide afresh from the current state, which is what level-triggered means.
"""

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roost.server.store.db import Database
from roost.server.store.rows import EnvironmentRow, RunnerRow

Leased = type[EnvironmentRow] | type[RunnerRow]


def new_token() -> str:
    return secrets.token_hex(16)


async def acquire(
    db: Database, table: Leased, row_id: str, now: datetime, seconds: float
) -> str | None:
    """Take the lease on one row; returns the token, or None if someone else holds it."""
    token = new_token()
    async with db.write() as session:
        result = await session.execute(
            update(table)
            .where(
                table.id == row_id,
                or_(table.lock_token.is_(None), table.lock_expires_at < now),
            )
            .values(lock_token=token, lock_expires_at=now + timedelta(seconds=seconds))
        )
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def holds(session: AsyncSession, table: Leased, row_id: str, token: str) -> Any:
    """Within the apply transaction: the row if ``token`` still holds its lease, else None.

    The lease is released in the same transaction (the apply is a pass's last step), which
    saves the separate release transaction on the hot path; :func:`release` then finds nothing.
    """
    row: Any = await session.scalar(
        select(table).where(table.id == row_id, table.lock_token == token).with_for_update()
    )
    if row is not None:
        row.lock_token = None
        row.lock_expires_at = None
    return row


async def release(db: Database, table: Leased, row_id: str, token: str) -> None:
    async with db.write() as session:
        await session.execute(
            update(table)
            .where(table.id == row_id, table.lock_token == token)
            .values(lock_token=None, lock_expires_at=None)
        )
