"""Which process the OOM killer took, and when: read from the kernel log.

When an environment's memory runs out, the kernel kills one process *inside* it (its memory
cgroup is the constraint; ``memory.oom.group`` stays 0 on v2, so the environment's other
processes, its init included, live on) and counts it (``oom_kill`` in ``memory.oom_control``
on v1, ``memory.events`` on v2). The counter says *that* it happened; only the kernel log says
*which* process. Each kill logs one record on ``/dev/kmsg``::

    6,46524,6784421008,-;oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/roost/<env-id>,
        task_memcg=/roost/<env-id>,task=python3,pid=11232,uid=16777216
    3,46525,6784421024,-;Memory cgroup out of memory: Killed process 11232 (python3)
        total-vm:100580kB, anon-rss:65032kB, ...

The watcher reads ``/dev/kmsg`` without blocking (the event loop wakes it when a record
arrives), keeps the last kill of each environment under the runner's cgroup parent, and calls
``on_kill`` so the environment is reconciled -- and its status reports the kill -- at once.
At start it reads the whole ring buffer first, so kills that happened while the runner was
down are found again (as long as the kernel still holds them; the counter never forgets).

The timestamp is the kernel's monotonic clock in microseconds, turned into wall time here.
The pid is the host's: inside, the process had another one (its pid namespace).
"""

import asyncio
import contextlib
import errno
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)
KMSG = "/dev/kmsg"
_OOM = re.compile(
    r"oom-kill:.*,oom_memcg=(?P<memcg>[^,]*),.*,task=(?P<task>.*?),pid=(?P<pid>\d+),uid="
)
_PIDS = re.compile(r"fork rejected by pids controller in (?P<cgroup>\S+)")
"""Logged once per cgroup, at its first refused fork: wakes the environment's pass, whose
``resources`` condition then counts them (``pids.events``)."""
_KILLED = re.compile(r"Killed process (?P<pid>\d+) \((?P<task>.*)\).*?anon-rss:(?P<rss>\d+)kB")


@dataclass(frozen=True)
class OomKill:
    env_id: str
    process: str
    pid: int
    """Host pid."""
    at: datetime
    rss_kib: int = 0
    """The victim's resident anonymous memory when it was killed."""


def _record(raw: bytes) -> tuple[int, str] | None:
    """(timestamp in microseconds, first line of the message) of one kmsg record."""
    head, sep, body = raw.decode(errors="replace").partition(";")
    fields = head.split(",")
    if not sep or len(fields) < 3 or not fields[2].isdigit():
        return None
    return int(fields[2]), body.split("\n", 1)[0]


def wall_time(usec: int) -> datetime:
    """A kmsg timestamp (monotonic microseconds since boot) as a wall-clock time."""
    age = time.clock_gettime(time.CLOCK_MONOTONIC) - usec / 1e6
    return datetime.now(UTC) - timedelta(seconds=max(0.0, age))


class OomWatcher:
    def __init__(
        self, cgroup_parent: str, on_kill: Callable[[str], None] | None = None, path: str = KMSG
    ) -> None:
        self.prefix = f"/{cgroup_parent.strip('/')}/"
        self.on_kill = on_kill
        self.path = path
        self._last: dict[str, OomKill] = {}
        self._fd: int | None = None

    def last(self, env_id: str) -> OomKill | None:
        return self._last.get(env_id)

    def forget(self, env_id: str) -> None:
        self._last.pop(env_id, None)

    def feed(self, raw: bytes, *, notify: bool = True) -> None:
        """Take one kmsg record."""
        parsed = _record(raw)
        if parsed is None:
            return
        usec, message = parsed
        if (found := _OOM.search(message)) is not None:
            memcg = found["memcg"]
            if not memcg.startswith(self.prefix):
                return
            env_id = memcg[len(self.prefix) :].split("/", 1)[0]
            kill = OomKill(env_id, found["task"], int(found["pid"]), wall_time(usec))
            self._last[env_id] = kill
            log.info("out of memory in %s: killed %s (pid %d)", env_id, kill.process, kill.pid)
            if notify and self.on_kill is not None:
                self.on_kill(env_id)
        elif (refused := _PIDS.search(message)) is not None:
            cgroup = refused["cgroup"]
            if cgroup.startswith(self.prefix) and notify and self.on_kill is not None:
                self.on_kill(cgroup[len(self.prefix) :].split("/", 1)[0])
        elif (killed := _KILLED.search(message)) is not None:
            pid = int(killed["pid"])
            for env_id, kill in self._last.items():
                if kill.pid == pid and not kill.rss_kib:
                    self._last[env_id] = replace(kill, rss_kib=int(killed["rss"]))

    def _drain(self, *, notify: bool) -> None:
        if self._fd is None:
            return
        while True:
            try:
                raw = os.read(self._fd, 8192)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EPIPE:
                    continue  # records were overwritten while we read: go on with the next
                raise
            self.feed(raw, notify=notify)

    def start(self) -> bool:
        """Read what the kernel still holds, then follow it; False when kmsg is unreadable."""
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("cannot read %s (%s): OOM kills are counted but not named", self.path, exc)
            return False
        self._drain(notify=False)
        asyncio.get_running_loop().add_reader(self._fd, self._drain_and_notify)
        return True

    def _drain_and_notify(self) -> None:
        try:
            self._drain(notify=True)
        except OSError:
            log.exception("reading %s failed; OOM kills are no longer named", self.path)
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
