"""A runner gone for good: its environments go back to their last verified backups.

Only a runner can normally unassign an environment (after backing it up, ``backups.release``).
When the runner is gone for good that never happens, so an admin declares it ``lost``
(``roost runner lost R``), or an organization's policy does after the runner has been silent
``restore_lost_after_seconds`` (off by default; :mod:`roost.server.controllers.runner_loss`).
Each of its environments is then *abandoned*:

* unassigned, and its status says what was lost: everything since its latest backup (named,
  with its time), or everything if it was never backed up;
* declared lost by an admin: it becomes ``stopped`` (a start or a move restores the backup on
  any runner that reaches it); by the policy: it keeps its desired phase, so one that should
  run is placed and restored elsewhere at once;
* one being deleted is deleted (its runner will never confirm it).

A lost runner that comes back heartbeats ``online`` again; the environments it still holds are
no longer its, and it removes its copies (their work since the backup is what was declared lost).
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core.errors import Conflict, Forbidden
from roost.core.schemas.environments import EnvironmentSpec, EnvironmentStatus
from roost.core.schemas.runners import Runner
from roost.server.services import audit, backups, environment_status, environments, runners
from roost.server.services.context import Context, Principal
from roost.server.store.rows import EnvironmentRow, RunnerRow


async def declare_lost(ctx: Context, principal: Principal, ref: str) -> Runner:
    if not principal.is_admin:
        raise Forbidden("only platform admins declare runners lost")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        runner = await runners.find(session, ref)
        if runner.state == "online":
            raise Conflict(
                f"runner {runner.name} is online; drain it (`roost runner drain {runner.name}`) "
                "instead: declaring it lost would throw away its environments' work since their "
                "last backups",
                code="runner_online",
            )
        count = await abandon_all(ctx, session, runner, now, stop=True)
        runner.state = "lost"
        await runners.emit(session, runner, now, "MODIFIED")
        audit.record(session, now, principal, "runner.lost", "runner", runner.id,
                     details={"environments": count})  # fmt: skip
        return runners.to_schema(runner)


async def abandon_all(
    ctx: Context, session: AsyncSession, runner: RunnerRow, now: datetime, *, stop: bool
) -> int:
    envs = list(
        await session.scalars(
            select(EnvironmentRow).where(EnvironmentRow.runner_id == runner.id).with_for_update()
        )
    )
    for env in envs:
        await abandon(ctx, session, env, runner, now, stop=stop)
    return len(envs)


async def abandon(
    ctx: Context, session: AsyncSession, env: EnvironmentRow, runner: RunnerRow, now: datetime,
    *, stop: bool,
) -> None:  # fmt: skip
    """Unassign ``env`` from the lost ``runner``: back to its latest backup, or delete it."""
    if env.desired_phase == "deleted":
        await environment_status.remove(ctx, session, env, now)
        return
    spec = EnvironmentSpec.model_validate(env.spec)
    pinned = spec.runner in (runner.id, runner.name)
    if pinned or (stop and spec.desired_phase != "stopped"):
        spec.runner = None if pinned else spec.runner
        spec.desired_phase = "stopped" if stop else spec.desired_phase
        environments.replace_spec(env, spec)
    last = await backups.latest(session, env.id)
    if last is None:
        text = (f"runner {runner.name} was lost and this environment was never backed up: its "
                "work is gone; a start begins again from its repository")  # fmt: skip
    else:
        taken = last.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        text = (f"runner {runner.name} was lost; the work is as of backup {last.id[:8]} "
                f"({taken}): changes made after that time are lost")  # fmt: skip
    status = EnvironmentStatus(**env.status)
    status.observed_spec_version = env.spec_version
    status.conditions["machine"] = environment_status.condition(
        "ready" if last else "failed", text, now, lost_runner=runner.name,
        backup=last.id if last else None,
        backup_at=last.created_at.isoformat() if last else None,
    )  # fmt: skip
    status.conditions.pop("move", None)
    status.message = text
    phase = "stopped" if env.desired_phase == "stopped" else "pending"
    await environment_status.write(session, env, now, status, phase, runner_id=None, reassign=True)


async def delete_runner(ctx: Context, principal: Principal, ref: str) -> None:
    """Forget a runner. One that is not online gives its environments back to their last
    backups first (as if declared lost); an online one with environments must be drained."""
    if not principal.is_admin:
        raise Forbidden("only platform admins can remove runners")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        runner = await runners.find(session, ref)
        held = await session.scalar(
            select(EnvironmentRow.id).where(EnvironmentRow.runner_id == runner.id).limit(1)
        )
        if held is not None and runner.state == "online":
            raise Conflict(
                f"runner {runner.name} is online and holds environments: drain it first "
                f"(`roost runner drain {runner.name}`), then delete it",
                code="runner_online",
            )
        count = await abandon_all(ctx, session, runner, now, stop=True)
        audit.record(session, now, principal, "runner.delete", "runner", runner.id,
                     details={"environments": count})  # fmt: skip
    await runners.delete(ctx, principal, runner.id)
