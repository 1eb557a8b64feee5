"""Restore-on-loss policy: environments of an offline runner go back to their last backups
once the runner has been silent longer than their class allows
(``Resources.restore_lost_after_seconds``), or else their organization
(``OrgPolicy.restore_lost_after_seconds``); off by default. Those meant to run are then
placed on another runner, which restores and starts them (:mod:`..services.runner_loss`)."""

from datetime import timedelta

from sqlalchemy import select

from roost.core.schemas.environments import EnvironmentSpec
from roost.core.schemas.organizations import OrgPolicy
from roost.server.controllers import lease
from roost.server.controllers.loop import Controller
from roost.server.services import runner_loss
from roost.server.store.rows import EnvironmentRow, OrganizationRow, RunnerRow


class RunnerLoss(Controller):
    name = "runner-loss"
    table = EnvironmentRow

    async def candidates(self) -> list[str]:
        async with self.ctx.db.read() as session:
            ids = await session.scalars(
                select(EnvironmentRow.id)
                .join(RunnerRow, RunnerRow.id == EnvironmentRow.runner_id)
                .where(RunnerRow.state == "offline")
                .order_by(EnvironmentRow.id)
            )
            return list(ids)

    async def reconcile(self, row_id: str, token: str) -> bool:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            env: EnvironmentRow | None = await lease.holds(session, EnvironmentRow, row_id, token)
            if env is None or env.runner_id is None:
                return True
            runner = await session.get(RunnerRow, env.runner_id)
            after = EnvironmentSpec.model_validate(env.spec).resources.restore_lost_after_seconds
            if after is None:  # the class says nothing: the organization's policy
                org = await session.get(OrganizationRow, env.organization_id)
                after = OrgPolicy(**org.policy).restore_lost_after_seconds if org else None
            if runner is None or runner.state != "offline" or after is None:
                return True
            heard = runner.last_heartbeat or runner.created_at
            if now - heard < timedelta(seconds=after):
                return True
            await runner_loss.abandon(self.ctx, session, env, runner, now, stop=False)
        return True
