"""Counts the metrics endpoint reads from the database at scrape time (cheap aggregates)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from roost.server.services.context import Context
from roost.server.store.rows import EnvironmentRow, RunnerRow


@dataclass(frozen=True)
class RunnerBeat:
    name: str
    region: str
    state: str
    last_heartbeat: datetime | None


async def environments_by_phase(ctx: Context) -> dict[str, int]:
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(EnvironmentRow.phase, func.count()).group_by(EnvironmentRow.phase)
        )
        return {str(phase): int(n) for phase, n in rows.all()}


async def runner_heartbeats(ctx: Context) -> list[RunnerBeat]:
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(RunnerRow.name, RunnerRow.region, RunnerRow.state, RunnerRow.last_heartbeat)
        )
        return [RunnerBeat(*row) for row in rows.all()]
