"""Idle stop: stops environments idle past their timeout (rules in ``services/idle.py``).

Like every controller it is level-triggered and leased: each pass lists the environments whose
deadline has passed, takes each one's lease, checks again under it (activity may have arrived
meanwhile) and stops it. Time is the context's clock, so tests move hours in a call.
"""

from roost.core.schemas.organizations import OrgPolicy
from roost.server.controllers import lease
from roost.server.controllers.loop import Controller
from roost.server.services import idle
from roost.server.store.rows import EnvironmentRow, OrganizationRow


class IdleStop(Controller):
    name = "idle-stop"
    table = EnvironmentRow

    async def candidates(self) -> list[str]:
        async with self.ctx.db.read() as session:
            return await idle.candidates(session, self.ctx.clock.now())

    async def reconcile(self, row_id: str, token: str) -> bool:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            row: EnvironmentRow | None = await lease.holds(session, EnvironmentRow, row_id, token)
            if row is None:
                return True
            org = await session.get(OrganizationRow, row.organization_id)
            policy = OrgPolicy(**org.policy) if org else OrgPolicy()
            if idle.is_idle(row, policy, now):
                await idle.stop(session, row, now)
        return True
