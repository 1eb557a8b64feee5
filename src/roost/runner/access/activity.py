"""Activity tracking for idle stop: SSH traffic and proxied requests, reported in batches.

Every SSH data packet from the client and every proxied request *touches* its environment --
a dictionary write, nothing more. Every ``activity_report_seconds`` (30 s) the runner sends the
plane one batch: for each environment touched since the last batch, how many seconds ago. The
plane never sees more than one write per environment per period, whatever the traffic.

What counts: data from the client (keystrokes, uploads, forwarded connections' requests) and
proxied HTTP requests and WebSocket messages from the browser -- signs that someone is there.
Output alone (a build log scrolling in an open terminal) does not. An open SSH session counts
as activity only when the environment's spec sets ``keep_alive_sessions``.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from roost.core.errors import RoostError
from roost.core.schemas.activity import ActivityReport

log = logging.getLogger(__name__)
Send = Callable[[ActivityReport], Awaitable[None]]


class ActivityTracker:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last: dict[str, float] = {}
        """Environment id -> monotonic time of its last activity not yet reported."""
        self.kept_alive: Counter[str] = Counter()
        """Open sessions per environment whose spec says sessions keep it alive."""

    def touch(self, env_id: str) -> None:
        self.last[env_id] = self.clock()

    def session_opened(self, env_id: str, keep_alive: bool) -> None:
        self.touch(env_id)
        if keep_alive:
            self.kept_alive[env_id] += 1

    def session_closed(self, env_id: str, keep_alive: bool) -> None:
        self.touch(env_id)
        if keep_alive:
            self.kept_alive[env_id] -= 1
            if self.kept_alive[env_id] <= 0:
                del self.kept_alive[env_id]

    def take(self) -> tuple[ActivityReport, dict[str, float]]:
        """What to report now (and the raw times, to put back if sending fails)."""
        now = self.clock()
        taken, self.last = self.last, {}
        ago = {env_id: round(max(0.0, now - at), 3) for env_id, at in taken.items()}
        ago.update({env_id: 0.0 for env_id in self.kept_alive})
        return ActivityReport(seconds_ago=ago), taken

    async def report_forever(self, send: Send, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.flush(send)

    async def flush(self, send: Send) -> None:
        report, taken = self.take()
        if not report.seconds_ago:
            return
        try:
            await send(report)
        except Exception as exc:  # the plane is away, or the client closed: keep the loop
            why = exc.message if isinstance(exc, RoostError) else repr(exc)
            log.warning("could not report activity (%s); retrying next period", why)
            for env_id, at in taken.items():  # keep the newer of the two
                self.last[env_id] = max(at, self.last.get(env_id, at))
