"""Delegating an environment's own cgroup subtree to its root (nested-containers mode).

A container engine inside makes cgroups for its containers *below* the environment's cgroup,
so the limits of the environment hold for everything nested (every controller is
hierarchical: a child can ask for more, never get more than its parent). The runner hands the
environment's root -- an unprivileged host uid -- exactly what that needs, in every hierarchy
the environment belongs to (the v1 controllers, ``name=systemd`` and, on a hybrid host, the
empty v2 mount; on a v2 host the one unified tree, where its processes also move to a leaf so
that controllers can be enabled below it -- ``_evacuate``):

* the cgroup directory itself (to make and remove children);
* ``cgroup.procs`` and ``tasks`` (v1) / ``cgroup.procs``, ``cgroup.threads`` and
  ``cgroup.subtree_control`` (v2), to move its processes between its own cgroups and (v2)
  enable controllers for them.

Never the environment's own limit files (``memory.limit_in_bytes``, ``memory.max``,
``pids.max``, ``cpu.*`` ...): those stay root's, so the environment cannot raise its limits. On
v1, writing ``devices.allow`` needs CAP_SYS_ADMIN on the host whatever the owner: nested
engines in a user namespace skip the device cgroup (runc and crun do) and get only the devices
the environment has. This follows the kernel's delegation model (Documentation/admin-guide/
cgroup-v2.rst, "Delegation"); with a cgroup namespace, the environment sees its cgroup as
``/``.
"""

import contextlib
import os
from pathlib import Path

from roost.runner.runtime.container.cgroups import ROOT

DELEGATED_FILES = ("cgroup.procs", "tasks", "cgroup.threads", "cgroup.subtree_control")


def hierarchies(root: Path = ROOT) -> list[Path]:
    """Mount points of the cgroup hierarchies: ``root`` itself on v2, its children on v1."""
    if (root / "cgroup.controllers").exists():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "cgroup.procs").exists())


def delegate(path: str, uid: int, root: Path = ROOT) -> list[Path]:
    """Give ``uid`` the cgroup at ``path`` (in every hierarchy that has it); returns the
    directories delegated. Idempotent."""
    rel = path.strip("/")
    done = []
    for hierarchy in hierarchies(root):
        cgroup = hierarchy / rel
        if not cgroup.is_dir():
            continue
        _give(cgroup, uid)
        if hierarchy == root and (root / "cgroup.controllers").exists():  # a cgroup v2 host
            _evacuate(cgroup, uid)
        done.append(cgroup)
    return done


def _give(cgroup: Path, uid: int) -> None:
    os.chown(cgroup, uid, uid)
    for name in DELEGATED_FILES:
        if (cgroup / name).exists():
            os.chown(cgroup / name, uid, uid)


def _evacuate(cgroup: Path, uid: int) -> None:
    """cgroup v2's "no internal processes" rule: a cgroup may enable controllers for its
    children only while it holds no process itself. So the environment's processes move to a
    leaf, ``init`` (as the docker-in-docker scripts do), and its controllers are enabled below
    it, for the engine's cgroups. ``crun exec`` then joins the init process's cgroup (crun
    does that when the container's own cgroup refuses it with EBUSY). Limits stay on the
    environment's cgroup, above everything."""
    leaf = cgroup / "init"
    leaf.mkdir(exist_ok=True)
    _give(leaf, uid)
    for pid in (cgroup / "cgroup.procs").read_text().split():
        with contextlib.suppress(ProcessLookupError):  # gone meanwhile
            (leaf / "cgroup.procs").write_text(pid)
    wanted = (cgroup / "cgroup.controllers").read_text().split()
    if wanted:
        (cgroup / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in wanted))
