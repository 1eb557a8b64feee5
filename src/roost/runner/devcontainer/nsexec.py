"""``python -m roost.runner.devcontainer.nsexec SPEC``: start buildah as an unprivileged user.

The runner is root; buildah, and every ``RUN`` of a repository's Dockerfile or feature, must not
be. This helper (a fresh, single-threaded process: namespace changes are per process, and the
runner is threaded) sets up what :mod:`.buildahrun` asks for in ``SPEC`` (JSON) and then execs
buildah:

1. as root: join the environment's network namespace (``netns``), so that build steps get the
   environment's egress and firewall, not the host's network;
2. as root, in a private mount namespace: the bind mounts (``binds``) -- the repository,
   read-only and idmapped so that its files are owned by the build's root, and a private
   directory over ``/var/cache/containers`` (buildah believes it is root and would lock files
   there, which the build user may not). A missing mount point is made first: a fresh host has
   no ``/var/cache/containers`` (only a buildah run as root ever makes it);
3. enter the build user namespace (``userns_fd``: container root is the runner's build range,
   an unprivileged host uid) and become its root;
4. a new mount namespace owned by that user namespace, where buildah may mount overlays (and
   nothing it mounts outlives it); without ``netns``, a new network namespace with only a
   loopback device;
5. exec ``argv`` with exactly ``env``.

Every mount this process makes disappears with its namespaces: an interrupted build leaves no
mount behind on the host.
"""

import ctypes
import ctypes.util
import json
import os
import sys
from typing import Any

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND = 1, 2, 4, 32, 4096
MS_REC, MS_PRIVATE = 0x4000, 0x40000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _setns(path_or_fd: str | int, kind: int, what: str) -> None:
    fd = (
        os.open(path_or_fd, os.O_RDONLY | os.O_CLOEXEC)
        if isinstance(path_or_fd, str)
        else path_or_fd
    )
    try:
        _check(_libc.setns(fd, kind), f"entering {what}")
    finally:
        os.close(fd)


def _bind(src: str, dst: str, readonly: bool, idmap_fd: int | None) -> None:
    os.makedirs(dst, mode=0o755, exist_ok=True)  # every source here is a directory
    if idmap_fd is not None:
        from pathlib import Path  # noqa: PLC0415 - only builds with a repository need it

        from roost.runner.runtime.container.mounts import idmap_bind  # noqa: PLC0415

        idmap_bind(Path(src), Path(dst), idmap_fd, readonly=readonly)
        os.close(idmap_fd)
        return
    _check(_libc.mount(src.encode(), dst.encode(), None, MS_BIND, None), f"binding {src}")
    if readonly:
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
        _check(_libc.mount(None, dst.encode(), None, flags, None), f"read-only {dst}")


def enter_and_exec(spec: dict[str, Any]) -> None:
    if spec.get("netns"):
        _setns(spec["netns"], CLONE_NEWNET, f"network namespace {spec['netns']}")
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    for bind in spec.get("binds", []):
        _bind(bind["src"], bind["dst"], bool(bind.get("readonly")), bind.get("idmap_fd"))
    _setns(int(spec["userns_fd"]), CLONE_NEWUSER, "the build user namespace")
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS) in the build user namespace")
    if not spec.get("netns"):
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    os.chdir(spec.get("cwd") or "/")
    argv = [str(a) for a in spec["argv"]]
    os.execve(argv[0], argv, {str(k): str(v) for k, v in spec["env"].items()})  # noqa: S606


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m roost.runner.devcontainer.nsexec SPEC_JSON")
    try:
        enter_and_exec(json.loads(sys.argv[1]))
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"nsexec: {exc}")


if __name__ == "__main__":
    main()
