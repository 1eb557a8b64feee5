"""Resource readings (:mod:`roost.core.schemas.readings`): runners send them, users read those of
the environments they may see."""

from sqlalchemy import select

from roost.core.errors import NotFound
from roost.core.schemas.readings import Readings, ReadingsReport
from roost.server.services import environments
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow


async def record(ctx: Context, principal: Principal, runner_id: str, body: ReadingsReport) -> None:
    """For runners: readings of environments assigned to them (others are dropped)."""
    if principal.kind != "runner" or principal.runner_id != runner_id:
        raise NotFound(f"runner {runner_id} not found")
    wanted = {r.environment_id for r in body.readings}
    async with ctx.db.read() as session:
        mine = set(
            await session.scalars(
                select(EnvironmentRow.id).where(
                    EnvironmentRow.id.in_(wanted), EnvironmentRow.runner_id == runner_id
                )
            )
        )
    now = ctx.clock.now()
    for reading in sorted(body.readings, key=lambda r: r.at):
        if reading.environment_id in mine:
            ctx.readings.add(reading, now)


async def list_for(ctx: Context, principal: Principal, env_id: str) -> Readings:
    async with ctx.db.read() as session:
        await environments.load(session, principal, env_id)  # 404 unless visible
    return Readings(environment_id=env_id, items=ctx.readings.get(env_id, ctx.clock.now()))
