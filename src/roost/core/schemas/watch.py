"""Watch: changes keyed by a global resource version.

Every change to a watched object appends an event whose ``resource_version`` is one more than the
last. A watcher asks for events after the version it has seen; the plane answers at once if there
are any, or holds the request (long poll) until there are or the timeout passes. A watcher that
reconnects with its last version misses nothing. A version older than the plane keeps answers
410 ``resource_version_expired``: list again and watch from the list's ``resource_version``.
"""

from typing import Any, Literal

from pydantic import Field

from roost.core.schemas.base import Output

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
WatchKind = Literal["environment", "runner"]


class WatchEvent(Output):
    resource_version: int
    type: EventType
    kind: WatchKind
    object_id: str
    object: dict[str, Any] | None = None
    """The object as it is now (level-triggered consumers want the latest state); ``None`` when
    it no longer exists or the watcher may no longer see it."""


class WatchResponse(Output):
    events: list[WatchEvent] = Field(default_factory=list)
    resource_version: int
    """Pass this back as ``since`` on the next call."""
