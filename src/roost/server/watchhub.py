"""In-process wake-ups for long-polling watchers and controllers.

The database's event table is the source of truth; the hub only says "something may have
changed, look again". Local writes call :meth:`WatchHub.notify` after commit. With several
replicas (PostgreSQL), each replica runs one :meth:`poll_database` task that notices other
replicas' writes by reading the counter row -- one cheap query per replica per interval, however
many clients are watching.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime


class WatchHub:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.generation = 0
        self.on_delivery: Callable[[float], None] | None = None
        """Told how late each delivered change was (seconds); the metrics set it."""

    def delivered(self, committed: datetime, now: datetime) -> None:
        if self.on_delivery is not None:
            self.on_delivery(max(0.0, (now - committed).total_seconds()))

    def notify(self) -> None:
        """Wake everyone waiting; safe to call from the event loop's thread only."""
        self.generation += 1
        self._event.set()
        self._event = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        """Take this *before* looking at the database, then :meth:`wait` on it: a change that
        commits between the look and the wait has already set the ticket, so it is not missed
        (waiting on "the next notification" would sleep through it -- a lost wake-up)."""
        return self._event

    async def wait(self, timeout: float, ticket: asyncio.Event | None = None) -> bool:
        """Wait for a notification after ``ticket`` was taken (default: from now); False on
        timeout."""
        event = ticket or self._event
        if event.is_set():
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def poll_database(
        self, read_version: Callable[[], Awaitable[int]], interval: float
    ) -> None:
        last = await read_version()
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                current = await read_version()
                if current != last:
                    last = current
                    self.notify()
