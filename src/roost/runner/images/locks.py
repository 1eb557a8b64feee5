"""Locks that hold across coroutines and across processes.

The runner pulls while an operator runs ``roost image pull`` in another process, and both may
want the same blob. Two kinds of lock keep each blob downloaded once and each layer unpacked
once:

* an ``fcntl.flock`` on ``locks/<key>.lock``, which holds across processes and is released by
  the kernel when its process dies (a crashed pull never leaves a stale lock behind);
* an ``asyncio.Lock`` per key, so coroutines of one process queue on the event loop instead of
  polling the file lock against each other.

The file lock is taken by polling with ``LOCK_NB`` and a short backoff rather than a blocking
``flock`` in a thread: a cancelled waiter then simply stops waiting, where a thread would go on
to take the lock and leak it. The poll interval is capped at 100 ms, small next to a download.

Lock files are never deleted while the store is in use: unlinking a lock file that another
process has open would let a third process lock a new file of the same name. Only ``gc``, which
holds the store lock exclusively, removes them.
"""

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

_FIRST_POLL_S = 0.005
_MAX_POLL_S = 0.1


@asynccontextmanager
async def file_lock(path: Path, *, shared: bool = False) -> AsyncIterator[None]:
    """Hold ``flock`` on ``path`` (created if missing), exclusive unless ``shared``.

    Each call opens its own descriptor, so two holders in one process exclude each other too.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        delay = _FIRST_POLL_S
        while True:
            try:
                fcntl.flock(fd, operation)
                break
            except BlockingIOError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_POLL_S)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class KeyedLocks:
    """Exclusive locks by name (``blob-<hex>``, ``layer-<hex>``), in-process and cross-process."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._entries: dict[str, _Entry] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            async with entry.lock, file_lock(self._directory / f"{key}.lock"):
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]
