"""The change log behind watches (see :mod:`roost.core.schemas.watch`).

:func:`record` is called inside the transaction that changes a watched object. It takes the next
resource version from the counter row -- ``UPDATE ... RETURNING`` holds that row's lock until
commit, so versions become visible in order on every backend -- and appends an event row that
says who may see it (organization, owner, runner).
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Gone
from roost.server.services.context import Context, Principal
from roost.server.store.rows import CounterRow, ResourceEventRow

VERSION = "resource_version"
PRUNED = "events_pruned_through"


async def next_version(session: AsyncSession) -> int:
    value = await session.scalar(
        update(CounterRow)
        .where(CounterRow.name == VERSION)
        .values(value=CounterRow.value + 1)
        .returning(CounterRow.value)
    )
    if value is None:
        raise RuntimeError("the resource_version counter row is missing: run migrations")
    return int(value)


async def current_version(session: AsyncSession) -> int:
    value = await session.scalar(select(CounterRow.value).where(CounterRow.name == VERSION))
    return int(value or 0)


async def record(
    session: AsyncSession,
    now: datetime,
    *,
    kind: str,
    type_: str,
    object_id: str,
    organization_id: str | None = None,
    owner_id: str | None = None,
    runner_id: str | None = None,
    prev_runner_id: str | None = None,
) -> int:
    """Append one event; returns its resource version (store it on the object)."""
    version = await next_version(session)
    session.add(
        ResourceEventRow(
            id=version,
            kind=kind,
            type=type_,
            object_id=object_id,
            organization_id=organization_id,
            owner_id=owner_id,
            runner_id=runner_id,
            prev_runner_id=prev_runner_id,
            at=now,
        )
    )
    session.info["events"] = True
    return version


def visible_to(principal: Principal, kind: str):  # type: ignore[no-untyped-def]
    """SQL filter: the events of ``kind`` this principal may see."""
    cond = ResourceEventRow.kind == kind
    if principal.kind == "runner":
        if kind == "runner":
            return cond & (ResourceEventRow.object_id == principal.runner_id)
        return cond & or_(
            ResourceEventRow.runner_id == principal.runner_id,
            ResourceEventRow.prev_runner_id == principal.runner_id,
        )
    if principal.is_admin or kind == "runner":
        return cond
    managed = [org for org in principal.roles if principal.has_role(org, "admin")]
    return cond & or_(
        ResourceEventRow.owner_id == principal.user_id,
        ResourceEventRow.organization_id.in_(managed),
    )


async def read_since(
    session: AsyncSession, principal: Principal, kind: str, since: int, limit: int
) -> tuple[list[ResourceEventRow], int]:
    """Events after ``since`` visible to ``principal``, and the version to resume from."""
    pruned = await session.scalar(select(CounterRow.value).where(CounterRow.name == PRUNED))
    if since < int(pruned or 0):
        raise Gone(
            f"resource version {since} is older than the oldest kept change ({pruned}); "
            "list again and watch from the list's resource_version"
        )
    head = await current_version(session)
    rows = list(
        (
            await session.scalars(
                select(ResourceEventRow)
                .where(ResourceEventRow.id > since, visible_to(principal, kind))
                .order_by(ResourceEventRow.id)
                .limit(limit)
            )
        ).all()
    )
    if len(rows) == limit:
        return rows, rows[-1].id
    return rows, max(head, since, rows[-1].id if rows else 0)


async def prune(ctx: Context, older_than: timedelta) -> int:
    """Delete events older than ``older_than``; remembers the newest deleted version."""
    cutoff = ctx.clock.now() - older_than
    async with ctx.db.write() as session:
        newest = await session.scalar(
            select(func.max(ResourceEventRow.id)).where(ResourceEventRow.at < cutoff)
        )
        if newest is None:
            return 0
        result = await session.execute(
            delete(ResourceEventRow).where(ResourceEventRow.id <= newest)
        )
        counter = await session.get(CounterRow, PRUNED)
        if counter is None:
            session.add(CounterRow(name=PRUNED, value=newest))
        else:
            counter.value = max(counter.value, newest)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
