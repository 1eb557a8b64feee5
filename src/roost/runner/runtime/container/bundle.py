"""The OCI runtime configuration (``config.json``) of an environment. Pure: no I/O.

Isolation, in order of the document:

* **process**: the init (``/.roost/init``) as PID 1; no terminal; capabilities below;
  ``noNewPrivileges`` off so that ``sudo`` works inside; RLIMIT_NOFILE bounded by the host's.
* **capabilities** (bounding = effective = permitted), Docker's default set. Root inside can
  install packages and change owners (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETUID, SETGID,
  SETFCAP, SETPCAP, MKNOD (still no device access: see devices), KILL, AUDIT_WRITE), bind low
  ports in its own network namespace (NET_BIND_SERVICE, with the namespace's unprivileged port
  floor at 0), use ping and raw sockets there (NET_RAW), chroot (SYS_CHROOT). Not granted, among
  others: SYS_ADMIN (mounts), NET_ADMIN (its network), SYS_MODULE, SYS_RAWIO, SYS_PTRACE,
  SYS_BOOT, SYS_TIME, SYS_RESOURCE (its limits), BPF, PERFMON, DAC_READ_SEARCH. Whatever is
  granted applies only inside the environment's user namespace.
* **namespaces**: user (its own 65,536 ids), pid, mount, ipc, uts, cgroup, and a network
  namespace made by the runner and owned by the host, so root inside cannot reconfigure it.
* **mounts**: crun's defaults (proc, a tmpfs /dev with the standard devices, devpts, shm,
  mqueue, sysfs read-only, cgroup read-only); /run as tmpfs; /etc/hosts, /etc/hostname and
  /etc/resolv.conf bind-mounted from the runner; the init read-only; the workspace as an
  idmapped bind mount that stores files on disk as ``WORKSPACE_ID_BASE + uid``: portable between
  runners and environments, and never owned by a real host user (root's files are not root's
  on the host).
* **masked / read-only paths**: crun's defaults plus more of /proc and /sys.
* **resources**: cgroup limits from the environment class -- CPU quota, memory with no swap
  beyond it, pids -- and a device allow-list of the standard character devices.
* **seccomp**: :mod:`roost.runner.runtime.container.seccomp`, handed to crun precompiled
  (:mod:`~roost.runner.runtime.container.seccomp_bpf`) when libseccomp loads, as JSON otherwise.

**Nested-containers mode** (``spec.nested_containers``; ``docs/security.md`` says what each
change means) changes, still all inside the environment's user namespace: the capabilities add
``NESTED_CAPABILITIES`` (mounts, its own network, ptrace for engines' helpers); the network
namespace is a new one *owned by that user namespace* (root inside configures it: bridges,
nftables, nested namespaces), which the runner wires to the host-owned one
(``runner/nested/netwire.py``), where addresses, shaping and egress policy stay out of its
reach; the cgroup filesystem is mounted read-write (the runner delegates only the
environment's own subtree: ``delegate.py``); ``/dev/fuse`` and ``/dev/net/tun`` exist;
``/proc/sys`` is writable (only its network namespace's sysctls are its own: the others
check the host's root); ``/var/lib/docker`` and ``/var/lib/containers`` are bind mounts of the
engine storage on the environment's disk (overlayfs cannot stack on the overlay root); and the
seccomp profile allows nested user namespaces.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roost.runner.idalloc import RANGE_SIZE, WORKSPACE_ID_BASE
from roost.runner.runtime.base import RuntimeSpec
from roost.runner.runtime.container import seccomp, seccomp_bpf

INIT_PATH = "/.roost/init"
CAPABILITIES = (
    "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID",
    "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
)  # fmt: skip
MASKED = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/proc/interrupts", "/proc/sysrq-trigger", "/sys/firmware", "/sys/devices/virtual/powercap",
    "/sys/kernel/debug", "/sys/kernel/security",
)  # fmt: skip
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
STANDARD_DEVICES = (  # (major, minor) of null, zero, full, tty, random, urandom, console, ptmx
    (1, 3), (1, 5), (1, 7), (5, 0), (1, 8), (1, 9), (5, 1), (5, 2),
)  # fmt: skip
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NESTED_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE")
NESTED_DEVICES = (("/dev/fuse", 10, 229), ("/dev/net/tun", 10, 200))
ENGINE_STORAGE = {"docker": "/var/lib/docker", "containers": "/var/lib/containers"}


def _mounts(
    spec: RuntimeSpec, etc_dir: Path, init_binary: Path, engine_dir: Path | None
) -> list[dict[str, Any]]:
    ro_bind = ["rbind", "ro", "nosuid", "nodev"]
    ws_map = [{"containerID": WORKSPACE_ID_BASE, "hostID": spec.id_base, "size": RANGE_SIZE}]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",  # noqa: S108
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime",
                     "rw" if spec.nested_containers else "ro"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=755"]},
        {"destination": INIT_PATH, "type": "bind", "source": str(init_binary), "options": ro_bind},
        *(
            {"destination": f"/etc/{name}", "type": "bind", "source": str(etc_dir / name),
             "options": ["rbind", "rw", "nosuid", "nodev"]}
            for name in ("hosts", "hostname", "resolv.conf")
        ),
        {"destination": spec.workspace_target, "type": "bind", "source": str(spec.workspace),
         "options": ["rbind", "rw", "nodev", "idmap"],
         "uidMappings": ws_map, "gidMappings": ws_map},
        *(
            {"destination": target, "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777"]}
            for target in spec.tmpfs
        ),
        *(
            {"destination": target, "type": "bind", "source": str(engine_dir / name),
             "options": ["rbind", "rw", "nosuid"]}
            for name, target in ENGINE_STORAGE.items()
            if engine_dir is not None
        ),
    ]  # fmt: skip


def _resources(
    spec: RuntimeSpec, swap_accounting: bool, nested_devices: Sequence[tuple[str, int, int]]
) -> dict[str, Any]:
    res = spec.resources
    memory = res.memory_mib * 1024 * 1024
    mem: dict[str, Any] = {"limit": memory}
    if swap_accounting:
        mem["swap"] = memory  # memory + swap: no swap beyond the limit
    devices: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    devices += [
        {"allow": True, "type": "c", "major": ma, "minor": mi, "access": "rwm"}
        for ma, mi in STANDARD_DEVICES
    ]
    devices.append({"allow": True, "type": "c", "major": 136, "access": "rwm"})  # pty slaves
    if spec.nested_containers:
        devices += [
            {"allow": True, "type": "c", "major": ma, "minor": mi, "access": "rwm"}
            for _, ma, mi in nested_devices
        ]
    return {
        "memory": mem,
        # No CPU quota here: crun joins the cgroup before it sets the container up, and a
        # small class's quota (0.1 CPU = 10 ms per 100 ms) would throttle crun itself, turning
        # a 15 ms start into hundreds. The driver applies the quota once the container runs.
        "cpu": {"shares": max(2, int(res.cpu * 1024))},
        "pids": {"limit": res.pids},
        "devices": devices,
    }  # fmt: skip


def _namespaces(spec: RuntimeSpec) -> list[dict[str, str]]:
    names = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user", "cgroup")]
    # Nested mode: a new network namespace, owned by the environment's user namespace
    # (runner/nested/netwire.py connects it to the runner-made one).
    if spec.netns is not None and not spec.nested_containers:
        names.append({"type": "network", "path": str(spec.netns)})
    else:
        names.append({"type": "network"})  # a private, empty one: loopback only
    return names


def config(
    spec: RuntimeSpec,
    *,
    etc_dir: Path,
    init_binary: Path,
    cgroups_path: str,
    nofile: int,
    swap_accounting: bool,
    annotations: dict[str, str] | None = None,
    engine_dir: Path | None = None,
    nested_devices: Sequence[tuple[str, int, int]] = NESTED_DEVICES,
) -> dict[str, Any]:
    """The whole ``config.json`` for ``spec``; ``engine_dir`` holds ``docker`` and
    ``containers``, the engine storage of nested mode; ``nested_devices`` those of
    ``NESTED_DEVICES`` the host has (crun fails to start a container over a missing one; the
    engine's condition names what is missing instead)."""
    base = (*CAPABILITIES, *NESTED_CAPABILITIES) if spec.nested_containers else CAPABILITIES
    caps = [*base, *(f"CAP_{c}" for c in spec.cap_add if f"CAP_{c}" not in base)]
    env = [f"PATH={PATH}", "HOME=/root", *spec.image_env]
    env += [f"{k}={v}" for k, v in spec.env.items()]
    idmap = [{"containerID": 0, "hostID": spec.id_base, "size": RANGE_SIZE}]
    doc: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "annotations": dict(annotations or {}),
        "root": {"path": "rootfs", "readonly": False},
        "hostname": spec.hostname,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": [INIT_PATH, str(int(spec.stop_grace))],
            "env": env,
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
            "noNewPrivileges": False,
        },
        "mounts": _mounts(spec, etc_dir, init_binary, engine_dir),
        "linux": {
            "namespaces": _namespaces(spec),
            "uidMappings": idmap,
            "gidMappings": idmap,
            "cgroupsPath": cgroups_path,
            "resources": _resources(spec, swap_accounting, nested_devices),
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
            "sysctl": {},
        },
    }
    if spec.nested_containers:
        doc["linux"]["readonlyPaths"].remove("/proc/sys")
        doc["linux"]["devices"] = [
            {"path": path, "type": "c", "major": ma, "minor": mi, "fileMode": 0o666, "uid": 0,
             "gid": 0}
            for path, ma, mi in nested_devices
        ]  # fmt: skip
    if seccomp_bpf.ANNOTATION not in doc["annotations"]:
        # crun compiles it (slower, same filter)
        doc["linux"]["seccomp"] = seccomp.profile(nested=spec.nested_containers)
    return doc
