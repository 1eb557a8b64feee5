"""Keyset pagination by id.

Ids are time-ordered (see :mod:`roost.core.ids`), so ``ORDER BY id`` lists oldest first and a
page boundary is just "id greater than the last one seen" -- stable under concurrent inserts and
cheap at any depth, unlike OFFSET. The cursor is that last id, opaque to clients.
"""

import base64
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from roost.core import ids
from roost.core.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 500


def encode(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode(cursor: str) -> str:
    bad = InvalidInput("invalid cursor; pass back next_cursor from the previous page")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        last_id = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad from exc
    if not ids.is_id(last_id):
        raise bad
    return last_id


async def page(
    session: AsyncSession,
    query: Select[T],
    id_column: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
) -> tuple[list[T], str | None]:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if cursor:
        query = query.where(id_column > decode(cursor))
    rows = list((await session.scalars(query.order_by(id_column).limit(limit + 1))).all())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode(str(getattr(rows[-1], id_column.key)))
    return rows, None
