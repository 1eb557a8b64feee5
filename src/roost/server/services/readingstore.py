"""Runners' resource readings, kept in the plane's memory for a few hours (the dashboard's
charts). Memory, not the database: they are many, small, and worthless after a while; losing
them on a restart costs a gap in a chart. With several plane replicas each keeps what it was
sent, so a chart shows the answering replica's share."""

from collections import deque
from datetime import datetime, timedelta

from roost.core.schemas.readings import Reading

KEEP_SECONDS = 6 * 3600
MAX_PER_ENVIRONMENT = 4000
"""At the runner's pace (one reading per pass, sent in batches), more than the hours kept."""
MAX_ENVIRONMENTS = 20000


class ReadingStore:
    def __init__(self) -> None:
        self._by_env: dict[str, deque[Reading]] = {}

    def add(self, reading: Reading, now: datetime) -> None:
        kept = self._by_env.get(reading.environment_id)
        if kept is None:
            if len(self._by_env) >= MAX_ENVIRONMENTS:
                self.prune(now)
            kept = self._by_env.setdefault(
                reading.environment_id, deque(maxlen=MAX_PER_ENVIRONMENT)
            )
        if kept and kept[-1].at >= reading.at:
            return  # a repeat or out of order: the series stays in time order
        kept.append(reading)

    def get(self, env_id: str, now: datetime) -> list[Reading]:
        horizon = now - timedelta(seconds=KEEP_SECONDS)
        return [r for r in self._by_env.get(env_id, ()) if r.at >= horizon]

    def prune(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=KEEP_SECONDS)
        for env_id in list(self._by_env):
            kept = self._by_env[env_id]
            while kept and kept[0].at < horizon:
                kept.popleft()
            if not kept:
                del self._by_env[env_id]
