"""Mounts for environment root filesystems: idmapped layers, overlay, unmount.

Each image layer is a plain directory owned by real ids (0 = root). An environment runs in its
own user namespace whose root is some unprivileged host uid B. To show the layers to it as
root-owned without copying or chowning anything, each layer is bind-mounted **idmapped**
(``open_tree`` + ``mount_setattr(MOUNT_ATTR_IDMAP)`` + ``move_mount``; util-linux on Debian 12 is
too old to do it) through a user namespace that maps on-disk id k to host id B + k. An overlay
stacks those views under a per-environment upper directory (overlayfs cannot itself be idmapped,
and an idmapped upper makes the overlay read-only, so the upper holds host ids B + k).

The idmapping is carried by a user-namespace file descriptor. Only a process can create a user
namespace, so :func:`userns_fd` starts ``unshare --user cat`` (fork+exec, not ``os.fork`` of this
threaded process), writes the maps from outside, opens ``/proc/PID/ns/user`` and lets the child
exit; the descriptor keeps the namespace alive as long as it is needed.
"""

import ctypes
import ctypes.util
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.syscall.restype = ctypes.c_long

# x86_64 and aarch64 share these numbers (the "new mount API" syscalls are in the generic table).
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, os.O_CLOEXEC
AT_FDCWD, AT_EMPTY_PATH, AT_RECURSIVE = -100, 0x1000, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
MOUNT_ATTR_IDMAP = 0x00100000
MNT_DETACH = 2
MS_RDONLY = 1


class MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


class MountError(OSError):
    pass


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise MountError(err, f"{what}: {os.strerror(err)}")
    return result


def userns_fd(uid_map: str, gid_map: str) -> int:
    """A file descriptor for a new user namespace with these maps ("inside outside count")."""
    child = subprocess.Popen(
        ["unshare", "--user", "--", "cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    if child.stdin is None:
        raise MountError(0, "no pipe to the user-namespace helper")
    try:
        own = os.readlink("/proc/self/ns/user")
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{child.pid}/ns/user") == own:
            if time.monotonic() > deadline or child.poll() is not None:
                raise MountError(0, "could not create a user namespace (is unshare installed?)")
            time.sleep(0.0002)
        Path(f"/proc/{child.pid}/uid_map").write_text(uid_map)
        Path(f"/proc/{child.pid}/gid_map").write_text(gid_map)
        return os.open(f"/proc/{child.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        child.stdin.close()
        child.wait()


def shift_map(host_base: int, size: int = 65536, inside_base: int = 0) -> str:
    return f"{inside_base} {host_base} {size}\n"


def idmap_bind(src: Path, dst: Path, ns_fd: int, *, readonly: bool = False) -> None:
    """Bind ``src`` onto ``dst`` (an existing directory), idmapped through ``ns_fd``."""
    tree = _check(
        _libc.syscall(
            SYS_OPEN_TREE, AT_FDCWD, str(src).encode(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
        ),
        f"open_tree {src}",
    )
    try:
        attrs = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV | (MOUNT_ATTR_RDONLY if readonly else 0)
        attr = MountAttr(attrs, 0, 0, ns_fd)
        _check(
            _libc.syscall(
                SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)
            ),
            f"idmapping {src}",
        )
        _check(
            _libc.syscall(
                SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, str(dst).encode(), MOVE_MOUNT_F_EMPTY_PATH
            ),
            f"move_mount to {dst}",
        )
    finally:
        os.close(tree)


def mount_overlay(lowers_top_first: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    """The overlay, with its directories named ``/proc/self/fd/N``: the kernel keeps the option
    strings as given and shows them in the environment's own mountinfo, which must not name the
    runner's paths. (Short, too: the options string is limited to one page.)"""
    fds = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in (*lowers_top_first, upper, work)]
    try:
        names = [f"/proc/self/fd/{fd}" for fd in fds]
        opts = (
            f"lowerdir={':'.join(names[:-2])},upperdir={names[-2]},workdir={names[-1]},"
            "index=off,xino=off"
        )
        _check(
            _libc.mount(b"overlay", str(target).encode(), b"overlay", 0, opts.encode()),
            f"mounting overlay on {target}",
        )
    finally:
        for fd in fds:
            os.close(fd)


def umount(target: Path) -> None:
    """Detach ``target`` (lazy: busy files do not block a stop). Missing mounts are fine."""
    if _libc.umount2(str(target).encode(), MNT_DETACH) < 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            raise MountError(err, f"unmounting {target}: {os.strerror(err)}")


def mountpoints_under(root: Path) -> list[Path]:
    """Mount points at or below ``root`` from /proc/self/mountinfo, deepest first."""
    prefix = str(root.resolve())
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = line.split(" ", 5)[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)
