"""``python -m roost.runner.runtime.sandbox.hidenet -- PROGRAM ARGS...``: run PROGRAM with
``/proc/sys/net`` hidden, in a mount namespace of its own.

Why: runsc 20221219 tells the host's network namespace from the others by whether
``/proc/sys/net/core/rmem_default`` exists. Newer kernels (this project's 6.18) have that file in
every network namespace, so ``runsc start`` refuses an environment's netns as if it were the
host's. An empty,
read-only tmpfs over ``/proc/sys/net`` -- in a private mount namespace, for this one process,
which then execs runsc -- gives the answer the check was written for. Nothing else changes: the
host, the runner and the sandbox keep their ``/proc``. (``/proc/sys/net/core`` alone would not
do: each netns has its own dentries below ``/proc/sys/net``, so a mount there is invisible once
runsc has entered the environment's netns.)

A separate program because mount namespaces are per process, and the runner is threaded.
"""

import ctypes
import ctypes.util
import os
import sys

CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE, MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x4000, 0x40000, 1, 2, 4, 8


def hide_and_exec(argv: list[str]) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    check(libc.mount(b"none", b"/proc/sys/net", b"tmpfs", flags, b"size=4k"), "hiding net")
    os.execvp(argv[0], argv)  # noqa: S606 - an argv list; becoming runsc is the point


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: python -m roost.runner.runtime.sandbox.hidenet -- PROGRAM [ARG...]")
    try:
        hide_and_exec(args)
    except OSError as exc:
        sys.exit(f"hidenet: {exc}")


if __name__ == "__main__":
    main()
