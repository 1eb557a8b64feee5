"""Long-poll watch over the change log (protocol in :mod:`roost.core.schemas.watch`)."""

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import InvalidInput
from roost.core.schemas.watch import WatchEvent, WatchResponse
from roost.server.services import environments, events, runners
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, ResourceEventRow, RunnerRow

MAX_TIMEOUT = 60.0
BATCH = 500


async def watch(
    ctx: Context, principal: Principal, kind: str, since: int | None, timeout: float
) -> WatchResponse:
    """Events after ``since``; waits up to ``timeout`` seconds for the first one.

    Without ``since`` the watch starts now: the answer is empty and carries the current version.
    """
    if kind not in ("environment", "runner"):
        raise InvalidInput("kind must be 'environment' or 'runner'")
    if since is not None and since < 0:
        raise InvalidInput("since must be a resource version (>= 0)")
    timeout = max(0.0, min(timeout, MAX_TIMEOUT))
    deadline = time.monotonic() + timeout
    while True:
        ticket = ctx.hub.ticket()
        async with ctx.db.read() as session:
            if since is None:
                return WatchResponse(resource_version=await events.current_version(session))
            rows, resume = await events.read_since(session, principal, kind, since, BATCH)
            if rows:
                now = ctx.clock.now()
                for row in rows:
                    ctx.hub.delivered(row.at, now)
                return WatchResponse(
                    events=await _with_objects(session, principal, kind, rows),
                    resource_version=resume,
                )
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not await ctx.hub.wait(remaining, ticket):
            return WatchResponse(resource_version=resume)
        since = resume


async def _with_objects(
    session: AsyncSession, principal: Principal, kind: str, rows: list[ResourceEventRow]
) -> list[WatchEvent]:
    """One event per object (the last), carrying the object as it is now."""
    last: dict[str, ResourceEventRow] = {}
    for row in rows:
        last.pop(row.object_id, None)
        last[row.object_id] = row
    ids_ = list(last)
    objects: dict[str, dict[str, object]] = {}
    if kind == "environment":
        for env in await session.scalars(select(EnvironmentRow).where(EnvironmentRow.id.in_(ids_))):
            if environments.can_see(principal, env):
                objects[env.id] = environments.to_schema(env).model_dump(mode="json", by_alias=True)
    else:
        for runner in await session.scalars(select(RunnerRow).where(RunnerRow.id.in_(ids_))):
            objects[runner.id] = runners.to_schema(runner).model_dump(mode="json")
    return [
        WatchEvent(
            resource_version=row.id,
            type="DELETED" if row.object_id not in objects else row.type,
            kind=kind,
            object_id=row.object_id,
            object=objects.get(row.object_id),
        )
        for row in last.values()
    ]
