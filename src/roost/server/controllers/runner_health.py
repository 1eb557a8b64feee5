"""Runner health: a runner that misses heartbeats goes ``offline`` and each of its
environments goes ``unknown`` with a message naming the runner and the time it was last heard.
Nothing is dropped or moved: when the runner reconnects it reports the real state again.

Overdue is measured from when this plane could observe: a plane that was not running (just
started, or paused -- SIGSTOP, a frozen VM, a long GC) has not been listening, so a heartbeat
missing from that time proves nothing about the runner. The controller notes when it started
watching, and starts again when its own passes stop for longer than :data:`PAUSED_AFTER`; a
runner is blamed only when it has been silent for ``offline_after`` seconds *of watching*.
(A plane paused for 30 s used to mark every runner offline and all their environments
``unknown`` at once.)
"""

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from roost.core.schemas.environments import EnvironmentStatus
from roost.server.controllers import lease
from roost.server.controllers.loop import Controller
from roost.server.services import audit, environment_status, events
from roost.server.services.context import Context
from roost.server.store.rows import EnvironmentRow, RunnerRow

PAUSED_AFTER = 15.0
"""Seconds between two of this controller's passes (which run at least every
``resync_seconds``) that mean the plane was not running in between."""


class RunnerHealth(Controller):
    name = "runner-health"
    table = RunnerRow

    def __init__(self, ctx: Context, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ctx)
        self._monotonic = monotonic
        self._last_pass = monotonic()
        self._watching_since = ctx.clock.now()

    def _cutoff(self) -> datetime:
        return self.ctx.clock.now() - timedelta(seconds=self.ctx.settings.offline_after)

    def _watched_long_enough(self) -> bool:
        """Note this pass; False while the plane has not been watching for ``offline_after``."""
        tick = self._monotonic()
        gap = tick - self._last_pass
        self._last_pass = tick
        if gap > max(PAUSED_AFTER, 2 * self.ctx.settings.resync_seconds):
            self._watching_since = self.ctx.clock.now()  # we were not listening: start again
        return self._watching_since <= self._cutoff()

    async def candidates(self) -> list[str]:
        if not self._watched_long_enough():
            return []
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
