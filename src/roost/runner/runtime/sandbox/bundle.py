"""The sandbox's ``config.json``: the container bundle, changed only where gVisor needs it.

The container runtime's bundle (:mod:`roost.runner.runtime.container.bundle`) stays the single
statement of what an environment is -- namespaces, id map, mounts, masked and read-only paths,
capabilities, seccomp profile, limits. Under runsc the same document means this:

* **ids**: runsc runs its gofer (the process that opens files for the sandbox) in a user
  namespace with the bundle's map, so files the environment writes carry host ids of its own
  range, as under crun. The sandbox kernel (the Sentry) runs as the host's ``nobody`` in a user
  namespace of its own; inside, gVisor implements users and capabilities itself.
* **the workspace**: runsc has no ``idmap`` mount option. The driver makes the same idmapped
  view on the host (:meth:`SandboxDriver._mount_workspace_view`) and the bundle binds that, so
  workspace files are stored as ``WORKSPACE_ID_BASE + uid`` under both runtimes.
* **capabilities**: the same set without ``CAP_NET_RAW``; runsc would drop it anyway (its
  ``--net-raw`` is off), and raw sockets in gVisor's network stack are attack surface nobody
  here needs (``ping`` uses ICMP datagram sockets).
* **seccomp**: the JSON profile (runsc ignores crun's precompiled annotation); with
  ``--oci-seccomp`` gVisor applies it to the first process, and the exec launcher
  (:mod:`.launcher`, mounted at ``/.roost/exec`` with the compiled filter) to every other.
* **masked / read-only paths, devices, mqueue**: passed as they are; gVisor's ``/proc`` and
  ``/sys`` are its own synthetic files, and it ignores what it does not implement (mqueue, the
  device cgroup: gVisor has no host devices to give).
* **pids**: the class's limit still caps the sandbox's *host* tasks, as under crun. But on the
  ptrace platform each process inside costs the host several tasks (a stub process per address
  space, a stub thread per Sentry thread that ran it; measured: ~7, on top of ~50 for an idle
  sandbox, kept as a pool), and a Sentry that cannot make a thread dies with everything in it.
  So processes inside are held to ``pids / HOST_TASKS_PER_PROCESS`` (twice the measured cost)
  per user by ``RLIMIT_NPROC``, which gVisor enforces
  (root included: it lacks CAP_SYS_RESOURCE): a fork bomb gets EAGAIN inside long before the
  host limit. (One that switches between many uids can still reach it; then the sandbox dies
  and the runner starts it again -- it can hurt only itself.)
* **memory**: the host cgroup's limit holds, but gVisor 20221219 has no OOM killer of its own:
  at the limit the host's kills the Sentry, i.e. the whole environment, which the runner then
  starts again. Under crun only the greedy process dies.
"""

import copy
from pathlib import Path
from typing import Any

from roost.runner.runtime.container import seccomp, seccomp_bpf
from roost.runner.runtime.sandbox import launcher

DROPPED_CAPABILITIES = ("CAP_NET_RAW",)
HOST_TASKS_PER_PROCESS = 16
MIN_PROCESSES = 16


def adapt(
    doc: dict[str, Any], *, workspace_view: Path, launcher_binary: Path, seccomp_filter: Path | None
) -> dict[str, Any]:
    """The container bundle ``doc`` as runsc runs it (``doc`` is not changed)."""
    out = copy.deepcopy(doc)
    if out["annotations"].pop(seccomp_bpf.ANNOTATION, None) is not None:
        # crun's precompiled copy replaced the JSON profile; runsc reads only the JSON
        out["linux"].setdefault("seccomp", seccomp.profile())
    caps = out["process"]["capabilities"]
    for kind in list(caps):
        caps[kind] = [c for c in caps[kind] if c not in DROPPED_CAPABILITIES]
    nproc = process_limit(int(out["linux"]["resources"]["pids"]["limit"]))
    rlimits = [r for r in out["process"].get("rlimits", []) if r["type"] != "RLIMIT_NPROC"]
    out["process"]["rlimits"] = [*rlimits, {"type": "RLIMIT_NPROC", "hard": nproc, "soft": nproc}]
    for mount in out["mounts"]:
        if "idmap" in mount.get("options", []):
            mount["source"] = str(workspace_view)
            mount["options"] = [o for o in mount["options"] if o != "idmap"]
            mount.pop("uidMappings", None)
            mount.pop("gidMappings", None)
    ro = ["rbind", "ro", "nosuid", "nodev"]
    out["mounts"].append(
        {"destination": launcher.PATH, "type": "bind", "source": str(launcher_binary),
         "options": ro}
    )  # fmt: skip
    if seccomp_filter is not None:
        out["mounts"].append(
            {"destination": launcher.FILTER_PATH, "type": "bind", "source": str(seccomp_filter),
             "options": [*ro, "noexec"]}
        )  # fmt: skip
    return out


def process_limit(pids: int) -> int:
    """Processes per user inside a sandbox whose host tasks are capped at ``pids``."""
    return max(MIN_PROCESSES, pids // HOST_TASKS_PER_PROCESS)


def has_seccomp(doc: dict[str, Any]) -> bool:
    """Whether the bundle has a profile (every real one does; a test's weakened one not)."""
    return bool(doc["linux"].get("seccomp"))
