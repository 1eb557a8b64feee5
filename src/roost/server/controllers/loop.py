"""The shape every plane controller shares.

``candidates()`` lists row ids that may need work (a cheap read); for each, the loop takes the
lease, calls ``reconcile(id, token)`` and releases. The loop runs when woken by a change (the
watch hub) and at least every ``resync`` seconds, which repairs anything a missed wake-up or a
crash left behind. A failing item is logged and retried on the next pass; it never stops the loop.
"""

import asyncio
import logging
from abc import ABC, abstractmethod

from roost.server.controllers import lease
from roost.server.services.context import Context

log = logging.getLogger(__name__)


class Controller(ABC):
    name: str = "controller"
    table: lease.Leased

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @abstractmethod
    async def candidates(self) -> list[str]:
        """Ids of rows that may need work now."""

    @abstractmethod
    async def reconcile(self, row_id: str, token: str) -> bool:
        """Take the next step for one row; apply only while ``token`` holds the lease.

        Returns True when it applied through :func:`lease.holds`, which released the lease.
        """

    async def run_once(self) -> int:
        """One pass over every candidate; returns how many were processed."""
        done = 0
        for row_id in await self.candidates():
            now = self.ctx.clock.now()
            token = await lease.acquire(
                self.ctx.db, self.table, row_id, now, self.ctx.settings.lease_seconds
            )
            if token is None:
                continue
            applied = False
            try:
                applied = await self.reconcile(row_id, token)
                done += 1
            except Exception:
                log.exception("%s: reconciling %s failed; will retry", self.name, row_id)
            finally:
                if not applied:
                    await lease.release(self.ctx.db, self.table, row_id, token)
        return done

    async def run_forever(self) -> None:
        resync = self.ctx.settings.resync_seconds
        while True:
            ticket = self.ctx.hub.ticket()  # changes during the pass wake the next one
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: pass failed", self.name)
            waiter = asyncio.ensure_future(self.ctx.hub.wait(resync, ticket))
            sleeper = asyncio.ensure_future(self.ctx.clock.sleep(resync))
            try:
                await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                sleeper.cancel()
