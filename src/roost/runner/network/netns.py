"""Named network namespaces, made the way ``ip netns add`` makes them, without forking.

A network namespace lives as long as something refers to it. A *named* one is a bind mount of
``/proc/thread-self/ns/net`` onto an empty file under ``/run/netns``; crun joins it by that path,
and ``ip netns exec`` works on it for debugging.

``unshare(CLONE_NEWNET)`` and ``setns`` change the namespace of the *calling thread* only, so
the runner does them on its network worker thread and always switches back before returning.
pyroute2's own helpers (``netns.create``, ``IPRoute(netns=...)``) fork a child process for the
same job, which is slow and risky in a large threaded process; this module forks nothing.

Sockets stay bound to the namespace they were created in, and ``/proc/sys/net`` shows the
namespace of the thread that opens a file there. So "do X inside the netns" is: enter, open the
socket or write the sysctl, leave (see :func:`entered`).

Like iproute2, ``/run/netns`` is made a shared mount point (a bind mount of itself). Mount
namespaces created later (containers, systemd units) then receive our unmounts too, so deleting
an environment does not leave its namespace pinned by a stale copy of the mount elsewhere.

The namespaces belong to the host's (initial) user namespace. That is what keeps an
environment's root -- root only inside its own user namespace -- from changing addresses,
routes, qdiscs, firewall rules or net sysctls of its network.
"""

import contextlib
import ctypes
import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_SELF = "/proc/thread-self/ns/net"


class NetnsRestoreError(RuntimeError):
    """The thread could not return to its own netns; it must not be used again."""


def _call(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: bytes, target: Path, flags: int) -> None:
    _call(_libc.mount(source, os.fsencode(target), b"none", flags, None), f"mount {target}")


def ensure_netns_dir(directory: Path) -> None:
    """Create ``directory`` and make it a shared mount point (idempotent, like iproute2)."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        _mount(b"", directory, MS_SHARED | MS_REC)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: not a mount point yet
            raise
        _mount(os.fsencode(directory), directory, MS_BIND | MS_REC)
        _mount(b"", directory, MS_SHARED | MS_REC)


def is_netns(path: Path) -> bool:
    """True if ``path`` is a mounted network namespace (not just the empty placeholder file)."""
    try:
        return os.stat(path).st_dev == os.stat(_SELF).st_dev
    except FileNotFoundError:
        return False


def create(path: Path, inside: Callable[[], T]) -> T:
    """Create a netns named by ``path`` and run ``inside()`` in it; the thread then returns."""
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    home = os.open(_SELF, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _call(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            _mount(_SELF.encode(), path, MS_BIND)
            return inside()
        finally:
            _return(home)
    except BaseException:
        remove(path)
        raise
    finally:
        os.close(home)


def bind(source: str, target: Path) -> None:
    """Name an existing netns (``/proc/PID/ns/net``) by bind-mounting it on ``target`` (a file)."""
    _mount(os.fsencode(source), target, MS_BIND)


@contextmanager
def entered(path: Path) -> Iterator[None]:
    """Run the body with the calling thread in the netns at ``path``."""
    home = os.open(_SELF, os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _call(_libc.setns(target, CLONE_NEWNET), f"setns {path}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            _return(home)
    finally:
        os.close(home)


def _return(home: int) -> None:
    if _libc.setns(home, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise NetnsRestoreError(f"cannot return to the runner's netns: {os.strerror(code)}")


def remove(path: Path) -> None:
    """Unmount and remove a named netns (idempotent). It dies when nothing else holds it."""
    while _libc.umount2(os.fsencode(path), MNT_DETACH) == 0:
        pass  # a name mounted twice (two racing creators) needs two unmounts
    if ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        code = ctypes.get_errno()
        raise OSError(code, f"umount {path}: {os.strerror(code)}")
    path.unlink(missing_ok=True)


def write_sysctl(key: str, value: str) -> None:
    """Write ``/proc/sys/<key>`` (``key`` uses ``/``, so interface names may contain dots)."""
    with open(f"/proc/sys/{key}", "w") as f:
        f.write(value)


def read_sysctl(key: str) -> str:
    with open(f"/proc/sys/{key}") as f:
        return f.read().strip()


def disable_ipv6(ifname: str) -> None:
    """Turn IPv6 off on an interface of the calling thread's netns (no-op without IPv6)."""
    with contextlib.suppress(FileNotFoundError):  # a kernel without IPv6
        write_sysctl(f"net/ipv6/conf/{ifname}/disable_ipv6", "1")
