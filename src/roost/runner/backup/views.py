"""Unshifted views: what restic reads and writes, so that backups carry environment ids.

On disk, an environment's files are owned by host ids: the workspace by
``WORKSPACE_ID_BASE + n`` (the same on every runner) and the writable layer by ``id_base + n``
(the environment's range on *this* runner). A backup must not depend on either, or a restore
into another range -- on another runner, or on this one after the range was given away --
would give the files to the wrong ids.

So restic never sees the directories themselves. It sees idmapped bind mounts of them through
the mapping ``host base+n -> n`` (a user namespace with the map ``base 0 65536``): reading
through the view, a file the environment's uid 1000 owns has owner 1000; writing through a view
made with the *new* base, ``chown 1000`` stores ``new_base + 1000``. Modes, setuid bits,
symlinks, hard links, xattrs (``trusted.overlay.*`` opaque markers included) and overlay
whiteouts (0/0 character devices) pass through unchanged; restic runs as host root, which may
create devices and set trusted xattrs.

One rule of idmapped mounts matters here: root may bypass permissions only on inodes whose owner
is mapped in the view, so a staging directory is chowned to the view's base before restic
writes into it.
"""

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from roost.runner.runtime.container import mounts

RANGE = 65536


def unshift_map(host_base: int) -> str:
    """Host ``host_base + n`` appears as ``n`` through the view (and is stored so)."""
    return mounts.shift_map(0, RANGE, inside_base=host_base)


def clear(view: Path) -> None:
    """Unmount whatever is left under ``view`` (a runner killed during a backup leaves its
    views mounted); idempotent."""
    if view.exists():
        for point in mounts.mountpoints_under(view):
            mounts.umount(point)


@contextlib.contextmanager
def unshifted(view: Path, sources: Mapping[str, tuple[Path, int]]) -> Iterator[Path]:
    """Mount ``view/<name>`` as an unshifted view of each ``(directory, host_base)``; yield
    ``view``; unmount on the way out, whatever happens."""
    clear(view)
    view.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        for name, (source, base) in sources.items():
            target = view / name
            target.mkdir(exist_ok=True)
            ns = mounts.userns_fd(unshift_map(base), unshift_map(base))
            try:
                mounts.idmap_bind(source, target, ns)
            finally:
                os.close(ns)
        yield view
    finally:
        clear(view)
