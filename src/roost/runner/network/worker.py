"""The network worker: one thread that makes every blocking netlink and namespace call.

Why one dedicated thread rather than ``asyncio.to_thread``:

* ``unshare``/``setns`` switch the calling thread's namespace. On a thread of our own, a bug
  that left it in an environment's netns could only ever affect our own later calls -- and
  :class:`~roost.runner.network.netns.NetnsRestoreError` retires the thread altogether.
* pyroute2's synchronous ``IPRoute`` runs a private event loop and insists on being used from
  the thread that made it. One thread can keep one host ``IPRoute`` for the runner's lifetime
  (opening one costs about a millisecond; a create needs a second one inside the env netns).
* Requests are serialized. Each takes a few milliseconds, and serial execution means two
  concurrent ``create`` calls for one environment cannot race each other.

A cancelled caller does not cancel the work in the thread; every operation is idempotent, so a
retry finishes whatever was left half done.
"""

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from pyroute2.netlink.exceptions import NetlinkError

from roost.runner.network import links, rtnl
from roost.runner.network.model import NetworkError
from roost.runner.network.netns import NetnsRestoreError

P = ParamSpec("P")
T = TypeVar("T")


class NetworkWorker:
    """Runs functions on the network thread; :meth:`host_rtnl` is valid on that thread only."""

    def __init__(self) -> None:
        self._executor = self._new_executor()
        self._local = threading.local()
        self._closed = False

    @staticmethod
    def _new_executor() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="roost-network")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on the network thread; unexpected errors become NetworkError."""
        if self._closed:
            raise NetworkError("the network worker is closed")
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await loop.run_in_executor(self._executor, call)
        except NetnsRestoreError as exc:
            broken, self._executor = self._executor, self._new_executor()
            broken.shutdown(wait=False)  # the stuck thread exits once idle
            raise NetworkError(f"network worker lost its namespace ({exc}); retry") from exc
        except NetworkError:
            raise
        except (OSError, NetlinkError) as exc:  # rtnl.NetlinkFailure is an OSError
            what = " ".join([getattr(fn, "__name__", "network").strip("_"), *map(str, args[:1])])
            raise NetworkError(f"{what} failed: {exc}") from exc

    def host_rtnl(self) -> links.Rtnl:
        """This thread's netlink socket in the runner's own netns, opened on first use."""
        ipr = getattr(self._local, "ipr", None)
        if ipr is None:
            ipr = self._local.ipr = links.open_rtnl()
        return ipr

    def host_raw(self) -> rtnl.Rtnl:
        """This thread's raw netlink socket (for the hot path: ``rtnl.py``), opened on first use."""
        raw = getattr(self._local, "raw", None)
        if raw is None:
            raw = self._local.raw = rtnl.Rtnl()
        return raw

    def _close_rtnl(self) -> None:
        ipr = getattr(self._local, "ipr", None)
        if ipr is not None:
            self._local.ipr = None
            ipr.close()
        raw = getattr(self._local, "raw", None)
        if raw is not None:
            self._local.raw = None
            raw.close()

    async def close(self) -> None:
        """Close the host socket and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_rtnl)
        await asyncio.to_thread(self._executor.shutdown, wait=True)
