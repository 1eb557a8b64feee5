"""Moving an environment to another runner: one operation with a visible state.

``move(env, R2)`` pins the environment to R2 (``spec.runner``) and wants it running, in one spec
change, and opens its ``move`` condition ("moving from R1 to R2: ..."):

* on no runner (stopped and backed up, or waiting): the scheduler places it on R2, which
  restores its latest backup and starts it;
* on R1 -- running, stopped with its files there, or failed: R1 sees an environment pinned
  elsewhere, stops it, backs it up (verified) and releases it (``services/backups.release``);
  then as above. A backup that fails keeps the environment on R1, and its ``backup`` condition
  says why.

The ``move`` condition turns ``ready`` ("moved from R1 to R2") when R2 reports it running
(:mod:`.move_progress`). Refused, with the reason: an unknown, offline, lost or draining target;
a target that cannot take the environment (placement's own reason); a source runner that is
offline (its work since the last backup is only there: wait for it, or an admin declares it
lost, :mod:`.runner_loss`) or that keeps no backups.
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict
from roost.core.schemas.environments import Environment, EnvironmentSpec, EnvironmentStatus
from roost.core.schemas.runners import Capacity
from roost.server.services import (
    audit,
    backups,
    environment_status,
    environments,
    move_progress,
    runners,
    scheduling,
)
from roost.server.services.context import Context, Principal
from roost.server.services.placement import misfit
from roost.server.settings import Settings
from roost.server.store.rows import EnvironmentRow, RunnerRow


async def move(ctx: Context, principal: Principal, env_id: str, target_ref: str) -> Environment:
    if principal.kind != "user":
        raise Conflict("only users move environments")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        env = await environments.load(session, principal, env_id, for_update=True)
        target = await runners.find(session, target_ref)
        await begin(session, env, target, now, ctx.settings)
        audit.record(session, now, principal, "environment.move", "environment", env.id,
                     organization_id=env.organization_id,
                     details={"to": target.name})  # fmt: skip
        return environments.to_schema(env)


async def begin(
    session: AsyncSession, env: EnvironmentRow, target: RunnerRow, now: datetime,
    settings: Settings, *, start: bool = True,
) -> None:  # fmt: skip
    """Check, then pin ``env`` to ``target``, want it running, and open its move condition.
    ``start=False`` (a drain's stopped environments): only pin it, so that its runner backs it
    up and lets it go; it stays stopped."""
    if env.desired_phase == "deleted":
        raise Conflict(f"environment {env.id} is being deleted; it cannot move")
    source = await session.get(RunnerRow, env.runner_id) if env.runner_id else None
    if source is None or source.id != target.id:
        await _check_target(session, env, target, source, settings)
    if source is not None and source.id != target.id:
        _check_source(env, source)
    spec = EnvironmentSpec.model_validate(env.spec)
    spec.runner = target.name
    spec.desired_phase = "running" if start else spec.desired_phase
    environments.replace_spec(env, spec)
    status = EnvironmentStatus(**env.status)
    if source is not None and source.id == target.id:
        status.conditions.pop(move_progress.PART, None)  # already there: a plain start
    elif start:  # (a stopped one arrives nowhere: its release says "stopped")
        status.conditions[move_progress.PART] = environment_status.condition(
            "progressing", "", now, to=target.name, to_id=target.id,
            **({"from": source.name, "from_id": source.id} if source else {}),
        )  # fmt: skip
        step = f"stopping and backing up on {source.name}" if source else "placing"
        move_progress.set_step(status, step, now)
    await environment_status.write(session, env, now, status, env.phase)


async def _check_target(
    session: AsyncSession, env: EnvironmentRow, target: RunnerRow, source: RunnerRow | None,
    settings: Settings,
) -> None:  # fmt: skip
    if target.state != "online":
        raise Conflict(f"runner {target.name} is {target.state}; pick an online runner "
                       "(`roost runner list`)", code="runner_unavailable")  # fmt: skip
    if target.draining:
        raise Conflict(f"runner {target.name} is draining; pick another runner",
                       code="runner_unavailable")  # fmt: skip
    spec = EnvironmentSpec.model_validate(env.spec)
    spec.runner = None  # the move replaces the pin
    location = await backups.latest_location(session, env.id)
    if location is None and source is not None:
        location = runners.to_schema(source).backup_location  # its first backup goes there
    alloc = (await runners.allocations(session)).get(target.id) or Capacity()
    why = misfit(runners.to_schema(target), spec, alloc,
                 scheduling.overcommit(settings), location)  # fmt: skip
    if why is not None:
        raise Conflict(f"runner {target.name} cannot take environment {env.id}: {why}",
                       code="runner_unfit")  # fmt: skip


def _check_source(env: EnvironmentRow, source: RunnerRow) -> None:
    if source.state != "online":
        raise Conflict(
            f"environment {env.id} is on runner {source.name}, which is {source.state}: its "
            "work since its last backup is only there. Wait until the runner is back, or an "
            f"admin declares it lost (`roost runner lost {source.name}`), which hands its "
            "environments back to their last backups",
            code="runner_unavailable",
        )
    if not runners.to_schema(source).backup_location:
        raise Conflict(
            f"runner {source.name} keeps no backups, so environment {env.id}'s work cannot "
            "leave it; configure a backup repository on that runner",
            code="no_backups",
        )
