"""Move an installation from one database to another (``roost server migrate-db``).

The usual move is from the embedded SQLite file to PostgreSQL when a team outgrows one machine.
Both sides are first brought to the newest schema; the target must hold no data of its own
(only what migrations seed, which the copy replaces). Every table of the models is copied row
by row through SQLAlchemy Core, so types are converted by the same code that reads and writes
them at run time (aware UTC timestamps, JSON documents). Parents come before children
(foreign keys), and the whole copy is one transaction on the target: it lands completely or not
at all. Row counts are compared afterwards.

The secrets master key lives in the plane's data directory, not in the database: keep using the
same ``--data-dir`` after the move.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.server.store import migrate
from roost.server.store.db import Database
from roost.server.store.rows import Base, CounterRow

BATCH = 500
SEEDED = {CounterRow.__tablename__}
"""Tables that migrations fill; the copy replaces their rows instead of refusing."""


class TargetNotEmpty(Exception):
    """The target already holds an installation; copying into it would mix two."""


async def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row from ``source_url`` to ``target_url``; returns rows copied per table."""
    source, target = Database(source_url), Database(target_url)
    try:
        await migrate.upgrade(source)
        await migrate.upgrade(target)
        await _refuse_non_empty(target)
        async with source.read() as src, target.write() as dst:
            copied = {t.name: await _copy_table(src, dst, t) for t in _tables()}
        await _verify(target, copied)
        return copied
    finally:
        await source.dispose()
        await target.dispose()


def _tables() -> Iterable[Table]:
    return Base.metadata.sorted_tables


async def _count(session: AsyncSession, table: Table) -> int:
    return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _refuse_non_empty(target: Database) -> None:
    async with target.read() as session:
        for table in _tables():
            if table.name not in SEEDED and await _count(session, table):
                raise TargetNotEmpty(
                    f"the target database already has rows in {table.name!r}: migrate into an "
                    "empty database (createdb a new one)"
                )


async def _copy_table(src: AsyncSession, dst: AsyncSession, table: Table) -> int:
    if table.name in SEEDED:
        await dst.execute(delete(table))
    result = await src.stream(select(table))
    copied = 0
    async for partition in result.mappings().partitions(BATCH):
        rows: list[dict[str, Any]] = [dict(row) for row in partition]
        await dst.execute(insert(table), rows)
        copied += len(rows)
    return copied


async def _verify(target: Database, copied: dict[str, int]) -> None:
    async with target.read() as session:
        for table in _tables():
            found = await _count(session, table)
            if found != copied[table.name]:
                raise RuntimeError(
                    f"{table.name}: copied {copied[table.name]} rows but the target has {found}"
                )
