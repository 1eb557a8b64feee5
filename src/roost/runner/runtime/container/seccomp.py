"""The seccomp profile every environment runs under.

Policy: **allow by default, deny a list** (like Docker's default profile, but as an explicit
deny list so it reads in one screen). Root inside an environment holds capabilities only over its
own namespaces, so most dangerous calls already fail; the list below closes what a capability
check does not cover, or what is a large kernel attack surface for no development need:

* kernel and module loading, reboot, swap, accounting, clocks: ``kexec_load``,
  ``kexec_file_load``, ``init_module``, ``finit_module``, ``delete_module``, ``reboot``,
  ``swapon``, ``swapoff``, ``acct``, ``settimeofday``, ``clock_settime``, ``clock_adjtime``,
  ``adjtimex``, ``stime``;
* file handles that bypass path checks: ``open_by_handle_at``, ``name_to_handle_at``;
* eBPF, perf, kernel keyrings, userfaultfd: ``bpf``, ``perf_event_open``, ``keyctl``,
  ``add_key``, ``request_key``, ``userfaultfd``;
* obsolete or host-wide: ``uselib``, ``_sysctl``, ``lookup_dcookie``, ``quotactl``,
  ``nfsservctl``, ``vm86``, ``vm86old``, ``iopl``, ``ioperm``, ``syslog``, ``kcmp``;
* **nested user namespaces** (``clone``/``unshare`` with ``CLONE_NEWUSER``; ``clone3`` answers
  ENOSYS so libc falls back to ``clone``, whose flags seccomp can see): a user namespace inside
  the environment would give its root a fresh set of capabilities over new namespaces, the
  largest kernel attack surface there is. Cost: tools that sandbox with user namespaces
  (bubblewrap, Chromium's sandbox, rootless podman) need their no-sandbox mode.

Denied calls fail with EPERM, which programs handle, rather than killing the process.

**Nested-containers mode** (``profile(nested=True)``) allows nested user namespaces (rootless
podman, buildah and sandboxing tools inside need them; each is still owned by the environment's
user namespace) and answers the keyring calls with ENOSYS instead of EPERM: runc and crun inside
create a session keyring per container and go on without one only when the kernel "has no
keyrings". ``mount``, ``umount2``, ``pivot_root`` and ``setns`` were never denied: the capability
checks of the environment's user namespace decide them.
"""

from typing import Any

CLONE_NEWUSER = 0x10000000
EPERM, ENOSYS = 1, 38

DENIED = (
    "acct", "add_key", "adjtimex", "bpf", "clock_adjtime", "clock_settime", "delete_module",
    "finit_module", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load",
    "keyctl", "lookup_dcookie", "name_to_handle_at", "nfsservctl", "open_by_handle_at",
    "perf_event_open", "quotactl", "reboot", "request_key", "settimeofday", "stime", "swapoff",
    "swapon", "syslog", "uselib", "userfaultfd", "vm86", "vm86old", "_sysctl",
)  # fmt: skip

ARCHITECTURES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64")


def _no_newuser(name: str, index: int) -> dict[str, Any]:
    return {
        "names": [name],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": EPERM,
        "args": [
            {"index": index, "value": CLONE_NEWUSER, "valueTwo": CLONE_NEWUSER,
             "op": "SCMP_CMP_MASKED_EQ"}
        ],
    }  # fmt: skip


KEYRINGS = ("add_key", "keyctl", "request_key")


def profile(*, nested: bool = False) -> dict[str, Any]:
    """The OCI ``linux.seccomp`` document (``nested``: for nested-containers mode)."""
    if not nested:
        return {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": list(ARCHITECTURES),
            "syscalls": [
                {"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
                _no_newuser("unshare", 0),
                _no_newuser("clone", 0),  # x86_64 / aarch64: flags are the first argument
            ],
        }
    denied = [name for name in DENIED if name not in KEYRINGS]
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": list(ARCHITECTURES),
        "syscalls": [
            {"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
            {"names": list(KEYRINGS), "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
        ],
    }
