"""Runner health: a runner that misses heartbeats goes ``offline`` and each of its
environments goes ``unknown`` with a message naming the runner and the time it was last heard.
Nothing is dropped or moved: when the runner reconnects it reports the real state again."""

from datetime import datetime, timedelta

from sqlalchemy import select

from roost.core.schemas.environments import EnvironmentStatus
from roost.server.controllers import lease
from roost.server.controllers.loop import Controller
from roost.server.services import audit, environment_status, events
from roost.server.store.rows import EnvironmentRow, RunnerRow


class RunnerHealth(Controller):
    name = "runner-health"
    table = RunnerRow

    def _cutoff(self) -> datetime:
        return self.ctx.clock.now() - timedelta(seconds=self.ctx.settings.offline_after)

    async def candidates(self) -> list[str]:
        async with self.ctx.db.read() as session:
            ids = await session.scalars(
                select(RunnerRow.id).where(
                    RunnerRow.state == "online", RunnerRow.last_heartbeat < self._cutoff()
                )
            )
            return list(ids)

    async def reconcile(self, row_id: str, token: str) -> bool:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as session:
            runner: RunnerRow | None = await lease.holds(session, RunnerRow, row_id, token)
            if runner is None or runner.state != "online" or runner.last_heartbeat is None:
                return True
            if runner.last_heartbeat >= self._cutoff():
                return True
            runner.state = "offline"
            runner.resource_version = await events.record(
                session, now, kind="runner", type_="MODIFIED", object_id=runner.id
            )
            audit.record(session, now, None, "runner.offline", "runner", runner.id, actor="system")
            heard = runner.last_heartbeat.strftime("%Y-%m-%d %H:%M:%S UTC")
            msg = (
                f"runner {runner.name} stopped responding (last heartbeat {heard}); "
                "state unknown until it reconnects"
            )
            envs = await session.scalars(
                select(EnvironmentRow)
                .where(EnvironmentRow.runner_id == runner.id, EnvironmentRow.phase != "unknown")
                .order_by(EnvironmentRow.id)  # one lock order everywhere (no deadlocks)
                .with_for_update()
            )
            for env in envs:
                status = EnvironmentStatus(**env.status)
                status.conditions["machine"] = environment_status.condition(
                    "unknown", msg, now, last_phase=env.phase
                )
                status.message = msg
                await environment_status.write(session, env, now, status, "unknown")
        return True
