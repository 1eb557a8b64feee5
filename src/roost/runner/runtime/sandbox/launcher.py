"""The exec launcher (``roost-exec.c``): every ``runsc exec`` starts through it.

gVisor (runsc 20221219) puts the OCI seccomp profile on the container's first process only;
processes started with ``runsc exec`` -- every shell, hook and command -- would run without it,
while crun gives each of them the profile. The launcher closes that gap inside the sandbox (its
source says how). Here: building it, and wrapping each exec request in it (:func:`wrap`).

It is built static on the runner host like the environment's init, cached by the source's hash,
and bind-mounted read-only at :data:`PATH`; the profile, compiled to BPF by the runner, sits at
:data:`FILTER_PATH` next to it.
"""

from dataclasses import replace
from importlib import resources
from pathlib import Path

from roost.runner.runtime.base import ExecRequest, RuntimeFailure
from roost.runner.runtime.container import initbin

PATH = "/.roost/exec"
FILTER_PATH = "/.roost/seccomp.bpf"


class LauncherBuildError(Exception):
    pass


def wrap(request: ExecRequest, seccomp: bool) -> ExecRequest:
    """The request as runsc must run it: the launcher, as root, switching to the user.
    ``seccomp`` is False only for a bundle without a profile (a test's weakened one)."""
    uid, _, gid = (request.user or "0:0").partition(":")
    if not uid.isdigit() or not (gid or "0").isdigit():
        raise RuntimeFailure(f"exec user must be numeric uid[:gid], not {request.user!r}")
    head = [PATH, FILTER_PATH if seccomp else "-", uid, gid or uid]
    return replace(request, argv=[*head, *request.argv], user="0:0")


def source() -> bytes:
    return (resources.files(__package__) / "roost-exec.c").read_bytes()


def ensure(bin_dir: Path) -> Path:
    """Path of the launcher built from the current source, building it if needed."""
    return initbin.build_static(
        bin_dir, "roost-exec", source(), LauncherBuildError, "the exec launcher"
    )
