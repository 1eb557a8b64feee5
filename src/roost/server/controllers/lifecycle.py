"""Lifecycle: removes environments once deleted, and never drops one silently.

* desired ``deleted`` and no runner (never placed)  → remove at once;
* desired ``deleted`` and its runner reported ``deleted`` for the current spec → remove;
* assigned to a runner that no longer exists → phase ``unknown``, with a message saying so.
"""

from sqlalchemy import or_, select

from roost.core.schemas.environments import EnvironmentStatus
from roost.server.controllers import lease
from roost.server.controllers.loop import Controller
from roost.server.services import environment_status
from roost.server.store.rows import EnvironmentRow, RunnerRow


class Lifecycle(Controller):
    name = "lifecycle"
    table = EnvironmentRow

    async def candidates(self) -> list[str]:
        async with self.ctx.db.read() as session:
            deleted = select(EnvironmentRow.id).where(
                EnvironmentRow.desired_phase == "deleted",
                or_(EnvironmentRow.runner_id.is_(None), EnvironmentRow.phase == "deleted"),
            )
            orphaned = (
                select(EnvironmentRow.id)
                .outerjoin(RunnerRow, RunnerRow.id == EnvironmentRow.runner_id)
                .where(
                    EnvironmentRow.runner_id.is_not(None),
                    RunnerRow.id.is_(None),
                    EnvironmentRow.phase != "unknown",
                )
            )
            return list(await session.scalars(deleted.union(orphaned)))

    async def reconcile(self, row_id: str, token: str) -> bool:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            row: EnvironmentRow | None = await lease.holds(session, EnvironmentRow, row_id, token)
            if row is None:
                return True
            if row.desired_phase == "deleted" and self._confirmed(row):
                await environment_status.remove(self.ctx, session, row, now)
                return True
            if row.runner_id and await session.get(RunnerRow, row.runner_id) is None:
                if row.phase == "unknown":
                    return True
                msg = (
                    f"runner {row.runner_id} was removed; the environment's files may be lost "
                    "with it. Delete the environment or restore it elsewhere."
                )
                status = EnvironmentStatus(**row.status)
                status.conditions["machine"] = environment_status.condition("unknown", msg, now)
                status.message = msg
                await environment_status.write(session, row, now, status, "unknown")
        return True

    @staticmethod
    def _confirmed(row: EnvironmentRow) -> bool:
        if row.runner_id is None:
            return True
        observed = int(row.status.get("observed_spec_version", 0))
        return row.phase == "deleted" and observed >= row.spec_version
