"""Resource readings for the dashboard's charts (:mod:`roost.core.schemas.readings`).

The ``resources`` step already reads each running environment's cgroup on every pass; it hands
the figures here, and they go to the plane in one batch every :data:`SEND_EVERY` seconds. A
failed send is dropped, not retried: a gap in a chart is cheaper than a backlog.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from roost.core.errors import RoostError
from roost.core.schemas.readings import Reading, ReadingsReport
from roost.runner.runtime.base import Stats

log = logging.getLogger(__name__)
SEND_EVERY = 15.0
MAX_BATCH = 5000

Send = Callable[[ReadingsReport], Awaitable[None]]


class ReadingsBuffer:
    def __init__(self, send: Send, every: float = SEND_EVERY) -> None:
        self.send = send
        self.every = every
        self.pending: list[Reading] = []
        self.last_sent = time.monotonic()

    async def add(self, env_id: str, stats: Stats) -> None:
        if len(self.pending) < MAX_BATCH:
            self.pending.append(Reading(
                environment_id=env_id, at=datetime.now(UTC), cpu_usage_ns=stats.cpu_usage_ns,
                memory_bytes=stats.memory_bytes, memory_limit_bytes=stats.memory_limit_bytes,
                disk_used_bytes=stats.disk_used_bytes, disk_limit_bytes=stats.disk_limit_bytes,
                pids=stats.pids,
            ))  # fmt: skip
        if time.monotonic() - self.last_sent >= self.every:
            await self.flush()

    async def flush(self) -> None:
        batch, self.pending = self.pending, []
        self.last_sent = time.monotonic()
        if not batch:
            return
        try:
            await self.send(ReadingsReport(readings=batch))
        except (RoostError, OSError) as exc:
            log.warning("resource readings not sent (%d dropped): %s", len(batch), exc)
