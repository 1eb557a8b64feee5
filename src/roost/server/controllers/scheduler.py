"""Scheduler: gives each environment that should run, and has no runner, a runner.

Decides from a snapshot (read transaction), then applies under the lease, after re-checking the
chosen runner's room with its row locked -- two replicas placing different environments on the
same runner at once cannot overbook it on PostgreSQL (on SQLite writers are serial anyway).
"""

from sqlalchemy import select

from roost.core.schemas.environments import EnvironmentSpec, EnvironmentStatus
from roost.core.schemas.runners import Capacity
from roost.server.controllers import lease
from roost.server.controllers.loop import Controller
from roost.server.controllers.placement import Overcommit, misfit, place
from roost.server.services import environment_status, runners
from roost.server.store.rows import EnvironmentRow, RunnerRow


class Scheduler(Controller):
    name = "scheduler"
    table = EnvironmentRow

    async def candidates(self) -> list[str]:
        async with self.ctx.db.read() as session:
            ids = await session.scalars(
                select(EnvironmentRow.id)
                .where(
                    EnvironmentRow.desired_phase == "running", EnvironmentRow.runner_id.is_(None)
                )
                .order_by(EnvironmentRow.id)
            )
            return list(ids)

    @property
    def overcommit(self) -> Overcommit:
        s = self.ctx.settings
        return Overcommit(cpu=s.cpu_overcommit, memory=s.memory_overcommit, disk=s.disk_overcommit)

    async def reconcile(self, row_id: str, token: str) -> bool:
        async with self.ctx.db.read() as session:
            env = await session.get(EnvironmentRow, row_id)
            if env is None or env.runner_id is not None or env.desired_phase != "running":
                return False
            spec = EnvironmentSpec.model_validate(env.spec)
            all_runners = [runners.to_schema(r) for r in await session.scalars(select(RunnerRow))]
            alloc = await runners.allocations(session)
        decision = place(spec, all_runners, alloc, self.overcommit)
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            row = await lease.holds(session, EnvironmentRow, row_id, token)
            if row is None or row.runner_id is not None or row.desired_phase != "running":
                return True  # lease lost or the world moved on: the next pass decides afresh
            if decision.runner is not None:
                runner_row = await session.scalar(
                    select(RunnerRow).where(RunnerRow.id == decision.runner.id).with_for_update()
                )
                fresh = (await runners.allocations(session)).get(decision.runner.id)
                if runner_row is None or misfit(
                    runners.to_schema(runner_row),
                    spec,
                    fresh or Capacity(),
                    self.overcommit,
                ):
                    return True
                status = EnvironmentStatus(**row.status)
                status.conditions["scheduled"] = environment_status.condition(
                    "ready", f"placed on runner {runner_row.name}", now, runner=runner_row.name
                )
                status.message = f"placed on runner {runner_row.name}; waiting for it to start"
                await environment_status.write(
                    session, row, now, status, "pending", runner_id=runner_row.id, reassign=True
                )
                return True
            current = EnvironmentStatus(**row.status).conditions.get("scheduled")
            if current is not None and current.message == decision.reason:
                return True  # already says so; writing again would only wake every watcher
            await environment_status.set_condition(
                session,
                row,
                now,
                "scheduled",
                environment_status.condition("pending", decision.reason, now),
                phase="pending",
                message=decision.reason,
            )
        return True
