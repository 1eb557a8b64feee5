"""Is an environment's disk still sound? Read from the kernel, cheaply enough to poll.

A disk fails when its loop device cannot write (the runner's filesystem filled up despite the
margin, a host disk error): ext4 logs the error, aborts its journal and turns read-only, and
the writes of the last seconds are gone. Processes inside see EIO or EROFS at some later write;
the user, left alone, sees nothing. Three signals say it, none needing a process or a log parse:

* the filesystem is read-only (``statvfs``'s ``ST_RDONLY``): the runner mounts disks
  read-write, so read-only means ext4 gave up (``errors=remount-ro``);
* a metadata write fails: setting the disk root's times to what they are starts a journal
  handle, which an aborted journal refuses with EROFS at once (on this project's kernels a
  journal aborted by "potential data loss!" leaves the mount read-write and counts no error);
* ``/sys/fs/ext4/<loop>/errors_count``: errors ext4 recorded, the ones it survived included.

:class:`DiskWatch` polls both for every mounted disk and wakes the environment's reconciler the
first time a disk goes bad, so its status says so within seconds (the disk step reports it).
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0


def problem(mountpoint: Path, device: str) -> str | None:
    """Why the disk mounted at ``mountpoint`` (on loop ``device``) cannot be trusted, or None."""
    try:
        st = os.stat(mountpoint)
        readonly = bool(os.statvfs(mountpoint).f_flag & os.ST_RDONLY)
    except OSError as exc:
        return _failed(f"it cannot be read: {exc.strerror}")
    parts = ["it turned read-only"] if readonly else []
    if not readonly:
        try:  # a metadata write (the same times): refused at once once the journal aborted
            os.utime(mountpoint, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError as exc:
            parts.append(f"its journal aborted: {exc.strerror}")
    errors = _errors(device)
    parts += [f"{errors} ext4 error(s)"] if errors else []
    return _failed(", ".join(parts)) if parts else None


def _failed(what: str) -> str:
    return (
        f"the environment's disk failed ({what}): writes since the failure may be lost. The "
        "runner's filesystem is probably full: free space on it, then stop and start the "
        "environment (its last backup is kept; check your recent work before the next backup)"
    )


def _errors(device: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(Path(f"/sys/fs/ext4/{device}/errors_count").read_text())
    return 0


class DiskWatch:
    """Polls every mounted disk (``check``: env id -> problem or None) and calls ``on_failure``
    once per environment when its disk goes bad."""

    def __init__(
        self,
        disks: Callable[[], dict[str, str | None]],
        on_failure: Callable[[str], None],
        interval: float = POLL_SECONDS,
    ) -> None:
        self.disks = disks
        self.on_failure = on_failure
        self.interval = interval
        self.failed: dict[str, str] = {}

    def tick(self) -> None:
        found = {env_id: why for env_id, why in self.disks().items() if why is not None}
        for env_id, why in found.items():
            if env_id not in self.failed:
                log.error("environment %s: %s", env_id, why)
                self.on_failure(env_id)
        self.failed = found

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # keep watching: one unreadable disk must not end the watch
                log.exception("checking the environments' disks")
            await asyncio.sleep(self.interval)
