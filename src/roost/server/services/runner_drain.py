"""Draining a runner: no new placements, and each of its environments moved off.

``roost runner drain R`` marks R ``draining`` (placement skips it) and moves every environment on
it with :func:`roost.server.services.moves.begin`, to the runner placement picks among the rest:
a running (or failed) one is stopped, backed up, and restored and started there; a stopped one
whose files are still on R is backed up and released (it stays stopped). An environment that
cannot move now (no runner fits, or R keeps no backups) is listed with the reason and stays;
drain again once that is fixed. ``--undo`` takes new placements again.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict, Forbidden
from roost.core.schemas.environments import EnvironmentSpec
from roost.core.schemas.runners import Capacity, RunnerDrain
from roost.server.services import audit, backups, moves, runners, scheduling
from roost.server.services.context import Context, Principal
from roost.server.services.placement import place
from roost.server.store.rows import EnvironmentRow, RunnerRow


async def drain(ctx: Context, principal: Principal, ref: str, on: bool = True) -> RunnerDrain:
    if not principal.is_admin:
        raise Forbidden("only platform admins drain runners")
    now = ctx.clock.now()
    moving: list[str] = []
    stuck: dict[str, str] = {}
    async with ctx.db.write() as session:
        runner = await runners.find(session, ref)
        runner.draining = on
        await runners.emit(session, runner, now, "MODIFIED")
        if on:
            await _move_all(ctx, session, runner, moving, stuck)
        audit.record(session, now, principal, "runner.drain" if on else "runner.undrain",
                     "runner", runner.id, details={"moving": len(moving)})  # fmt: skip
        return RunnerDrain(runner=runners.to_schema(runner), moving=moving, stuck=stuck)


async def _move_all(
    ctx: Context, session: AsyncSession, runner: RunnerRow, moving: list[str],
    stuck: dict[str, str],
) -> None:  # fmt: skip
    now = ctx.clock.now()
    envs = await session.scalars(
        select(EnvironmentRow)
        .where(EnvironmentRow.runner_id == runner.id, EnvironmentRow.desired_phase != "deleted")
        .order_by(EnvironmentRow.id)
        .with_for_update()
    )
    others = list(await session.scalars(select(RunnerRow).where(RunnerRow.id != runner.id)))
    alloc = await runners.allocations(session)
    overcommit = scheduling.overcommit(ctx.settings)
    for env in envs:
        spec = EnvironmentSpec.model_validate(env.spec)
        spec.runner = None
        location = await backups.latest_location(session, env.id)
        location = location or runners.to_schema(runner).backup_location
        schemas = [runners.to_schema(r) for r in others]
        decision = place(spec, schemas, alloc, overcommit, location)
        if decision.runner is None:
            stuck[env.id] = decision.reason
            continue
        target = next(r for r in others if r.id == decision.runner.id)
        try:
            await moves.begin(session, env, target, now, ctx.settings,
                              start=env.desired_phase == "running")  # fmt: skip
        except Conflict as exc:
            stuck[env.id] = exc.message
            continue
        moving.append(env.id)
        alloc[target.id] = _plus(alloc.get(target.id, Capacity()), env)


def _plus(used: Capacity, env: EnvironmentRow) -> Capacity:
    """What the target will hold once ``env`` arrives (so one drain does not overbook it)."""
    return Capacity(
        environments=used.environments + 1, cpu=used.cpu + env.cpu,
        memory_mib=used.memory_mib + env.memory_mib, disk_gib=used.disk_gib + env.disk_gib,
    )  # fmt: skip
