"""What the plane says and does while its database is unreachable.

Requests fail fast with 503 ``database_unavailable`` (clients and runners retry; nothing is
half-applied, because every change is one transaction), and control loops pause and retry every
:data:`RETRY_SECONDS` until the database answers again. Nothing needs restarting afterwards.
"""

from roost.server.store.db import is_unavailable

RETRY_SECONDS = 2.0
MESSAGE = (
    "the plane's database is unreachable; nothing was changed. Retry in a few seconds; if this "
    "lasts, check the database server (`roost doctor --database URL` shows what the plane sees)"
)

__all__ = ["MESSAGE", "RETRY_SECONDS", "database_unavailable"]


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the database cannot be reached right now."""
    seen: BaseException | None = exc
    while seen is not None:
        if is_unavailable(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
