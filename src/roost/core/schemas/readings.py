"""Resource readings: what a runner measured of a running environment (its cgroup's CPU time and
memory, its disk), sent every few seconds and kept briefly by the plane for the dashboard's
charts. Not in the status on purpose: figures that move by themselves would rewrite it on every
pass."""

from datetime import datetime

from pydantic import Field

from roost.core.schemas.base import Input, Output


class Reading(Input):
    environment_id: str = Field(max_length=40)
    at: datetime
    cpu_usage_ns: int = Field(ge=0)
    """Cumulative CPU time; the rate between two readings is the CPU use."""
    memory_bytes: int = Field(ge=0)
    memory_limit_bytes: int = Field(default=0, ge=0)
    disk_used_bytes: int = Field(default=0, ge=0)
    disk_limit_bytes: int = Field(default=0, ge=0)
    pids: int = Field(default=0, ge=0)


class ReadingsReport(Input):
    readings: list[Reading] = Field(max_length=5000)


class Readings(Output):
    environment_id: str
    items: list[Reading]
    """Oldest first, over the last :data:`roost.server.services.readingstore.KEEP_SECONDS`."""
