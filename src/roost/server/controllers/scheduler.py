"""Scheduler: gives each environment that should run, and has no runner, a runner.

Most environments are placed by the transaction that creates them
(:mod:`roost.server.services.scheduling`); this loop handles the rest -- environments that
fitted nowhere when created, were started again, or whose runner was full -- each under its
lease. Placement is pure logic with no I/O, so it is decided inside the apply transaction, where
the runner rows are locked and allocations counted fresh.
"""

from sqlalchemy import select

from roost.server.controllers import lease
from roost.server.controllers.loop import Controller
from roost.server.services import environments, scheduling
from roost.server.store.rows import EnvironmentRow


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

    async def reconcile(self, row_id: str, token: str) -> bool:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            row: EnvironmentRow | None = await lease.holds(session, EnvironmentRow, row_id, token)
            if row is None or row.runner_id is not None or row.desired_phase != "running":
                return True  # lease lost or the world moved on: the next pass decides afresh
            if await scheduling.try_place(session, row, now, self.ctx.settings):
                await environments.emit(session, row, now, "MODIFIED")
        return True
