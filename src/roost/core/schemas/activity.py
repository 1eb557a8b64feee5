"""Activity signals from runners: what kept each environment busy, for idle stop.

Runners batch them (one call per runner every ~30 s, not one per keystroke or request) and say
how many seconds ago each environment last saw activity; the plane turns that into a time on its
own clock, so clock skew between a runner and the plane does not matter.
"""

from pydantic import Field

from roost.core.schemas.base import Input


class ActivityReport(Input):
    seconds_ago: dict[str, float] = Field(default_factory=dict, max_length=10000)
    """Environment id -> seconds since its last SSH traffic or proxied request."""
