"""Activity: runners report when each environment last saw SSH traffic or proxied requests.

``last_activity`` is a plane-clock time: a runner says "N seconds ago" and the plane subtracts,
so a runner's clock skew cannot stop (or keep alive) anything. A report only moves
``last_activity`` forward, and by at least :data:`GRANULARITY` -- the runners batch their
reports every ~30 s, so each active environment costs about one status write per half minute,
never one per request.

Starting counts as activity too: when a runner reports an environment ``running`` after it was
not, ``environment_status.report`` sets ``last_activity`` to that moment, so an environment
that was idle before it stopped is not stopped again the moment it starts.
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.schemas.activity import ActivityReport
from roost.core.schemas.environments import EnvironmentStatus
from roost.server.services import environment_status
from roost.server.services.context import Context, Principal
from roost.server.services.ssh_access import check_runner
from roost.server.store.rows import EnvironmentRow

GRANULARITY = timedelta(seconds=5)


async def report(ctx: Context, principal: Principal, runner_id: str, body: ActivityReport) -> int:
    """Record the activity of environments assigned to the runner; returns how many moved."""
    check_runner(principal, runner_id)
    if not body.seconds_ago:
        return 0
    now = ctx.clock.now()
    moved = 0
    async with ctx.db.write() as session:
        rows = await session.scalars(
            select(EnvironmentRow)
            .where(
                EnvironmentRow.id.in_(list(body.seconds_ago)),
                EnvironmentRow.runner_id == runner_id,
            )
            .order_by(EnvironmentRow.id)  # one lock order everywhere (no deadlocks)
            .with_for_update()
        )
        for row in rows:
            at = now - timedelta(seconds=max(0.0, body.seconds_ago[row.id]))
            if await mark(session, row, now, at):
                moved += 1
    return moved


async def mark(session: AsyncSession, row: EnvironmentRow, now: datetime, at: datetime) -> bool:
    """Move ``last_activity`` forward to ``at`` (never back, never into the future)."""
    status = EnvironmentStatus(**row.status)
    at = min(at, now)
    if status.last_activity is not None and at < status.last_activity + GRANULARITY:
        return False
    status.last_activity = at
    await environment_status.write(session, row, now, status, row.phase)
    return True
