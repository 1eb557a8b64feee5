"""Failpoints: named places where a test can make the runner die on the spot.

``ROOST_FAILPOINTS=backup-written-before-recorded,restore-mid roost runner ...`` makes the
runner ``os._exit`` when it reaches one of those places -- no cleanup, no ``finally`` blocks,
exactly like ``kill -9`` or a power cut at that instant -- so tests can prove that recovery
starts from the right state. Unset (always, outside tests), :func:`hit` is a set lookup.
"""

import logging
import os

log = logging.getLogger(__name__)

BACKUP_WRITTEN_BEFORE_RECORDED = "backup-written-before-recorded"
"""restic wrote the snapshot; the runner has not yet verified it or told the plane."""
RESTORE_MID = "restore-mid"
"""restic restored the files into the staging directory; they are not in place yet."""

EXIT_CODE = 77


def active() -> frozenset[str]:
    return frozenset(p.strip() for p in os.environ.get("ROOST_FAILPOINTS", "").split(",") if p)


def hit(name: str) -> None:
    """Die here if the failpoint ``name`` is armed."""
    if name in active():
        log.error("failpoint %s: exiting now", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_CODE)
