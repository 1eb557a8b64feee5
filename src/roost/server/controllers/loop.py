"""The shape every plane controller shares.

``candidates()`` lists row ids that may need work (a cheap read); for each, the loop takes the
lease, calls ``reconcile(id, token)`` and releases. The loop runs when woken by a change (the
watch hub) and at least every ``resync`` seconds, which repairs anything a missed wake-up or a
crash left behind. A failing item is logged and retried on the next pass; it never stops the loop.

While the database is unreachable the loop *pauses*: it says so once, retries every
:data:`availability.RETRY_SECONDS`, and says when it resumes. A pass cut off by the outage left
either nothing or a whole transaction behind (each apply is one transaction guarded by the
lease token), so resuming simply runs the next pass.
"""

import asyncio
import logging
import time
from abc import ABC, abstractmethod

from roost.server.controllers import lease
from roost.server.services import availability
from roost.server.services.context import Context

log = logging.getLogger(__name__)


class Controller(ABC):
    name: str = "controller"
    table: lease.Leased

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.paused = False
        """True while the database is unreachable."""
        self.last_pass = time.monotonic()
        """When the last pass finished (``time.monotonic``): its age is the reconcile lag."""

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
            except Exception as e:
                if availability.database_unavailable(e):
                    raise  # pause the loop; the lease expires by itself
                log.exception("%s: reconciling %s failed; will retry", self.name, row_id)
            finally:
                if not applied:
                    await self._release(row_id, token)
        return done

    async def _release(self, row_id: str, token: str) -> None:
        try:
            await lease.release(self.ctx.db, self.table, row_id, token)
        except Exception as e:
            if not availability.database_unavailable(e):
                raise
            # unreachable: the lease expires after lease_seconds and the row is taken again

    async def run_forever(self) -> None:
        resync = self.ctx.settings.resync_seconds
        while True:
            ticket = self.ctx.hub.ticket()  # changes during the pass wake the next one
            wait = await self._pass(resync)
            waiter = asyncio.ensure_future(self.ctx.hub.wait(wait, ticket))
            sleeper = asyncio.ensure_future(self.ctx.clock.sleep(wait))
            try:
                await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                sleeper.cancel()

    async def _pass(self, resync: float) -> float:
        """Run one pass; returns how long to wait before the next."""
        try:
            await self.run_once()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if availability.database_unavailable(e):
                if not self.paused:
                    log.warning("%s: paused, the database is unreachable (%s)", self.name, e)
                self.paused = True
                return min(resync, availability.RETRY_SECONDS)
            log.exception("%s: pass failed", self.name)
            return resync
        if self.paused:
            log.warning("%s: resumed, the database is back", self.name)
            self.paused = False
        self.last_pass = time.monotonic()
        return resync
