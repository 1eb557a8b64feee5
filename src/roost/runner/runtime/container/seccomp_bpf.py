"""The seccomp profile compiled to BPF once per runner, instead of by crun on every start.

crun turns the profile's JSON into a BPF program with libseccomp each time it starts a
container -- about 10 ms of a ~30 ms start here. The runner compiles the same profile, with the
same library (through ctypes), once, and hands crun the program in the
``run.oci.seccomp_bpf_data`` annotation, which crun loads as is. The JSON profile stays in the
bundle as the readable source of truth; where libseccomp cannot be loaded, crun compiles it.
"""

import base64
import ctypes
import ctypes.util
import functools
import json
import logging
import os
import platform
import tempfile
from typing import Any

log = logging.getLogger(__name__)
ANNOTATION = "run.oci.seccomp_bpf_data"
SCMP_ACT_ALLOW = 0x7FFF0000
CMP_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
           "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}  # fmt: skip
ARCH_NAMES = {"SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
              "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_ARM": "arm"}  # fmt: skip
NATIVE_FAMILY = {"x86_64": ("x86_64", "x86", "x32"), "aarch64": ("aarch64", "arm")}


class ArgCmp(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


def _errno_action(errno: int) -> int:
    return 0x00050000 | (errno & 0xFFFF)


def _lib() -> Any:
    name = ctypes.util.find_library("seccomp")
    if name is None:
        raise OSError("libseccomp is not installed")
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ArgCmp),
    ]  # fmt: skip
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def compile_profile(profile: dict[str, Any]) -> bytes:
    """BPF for an OCI seccomp profile of the shape ``seccomp.profile()`` makes; compiled once
    per distinct profile (both runtimes and the host check ask for the same one)."""
    return _compile(json.dumps(profile, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _compile(profile_json: str) -> bytes:
    profile = json.loads(profile_json)
    lib = _lib()
    if profile["defaultAction"] != "SCMP_ACT_ALLOW":
        raise ValueError("only allow-by-default profiles are compiled here")
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        family = NATIVE_FAMILY.get(platform.machine(), ())
        for arch in profile["architectures"]:
            name = ARCH_NAMES.get(arch)
            if name in family and name != platform.machine():
                token = lib.seccomp_arch_resolve_name(name.encode())
                if lib.seccomp_arch_add(ctx, token) not in (0, -17):  # -EEXIST: native
                    raise OSError(f"seccomp_arch_add({name}) failed")
        for rule in profile["syscalls"]:
            _add_rule(lib, ctx, rule)
        with tempfile.TemporaryFile() as out:
            if lib.seccomp_export_bpf(ctx, out.fileno()) != 0:
                raise OSError("seccomp_export_bpf failed")
            out.seek(0)
            return out.read()
    finally:
        lib.seccomp_release(ctx)


def _add_rule(lib: Any, ctx: int, rule: dict[str, Any]) -> None:
    action = _errno_action(int(rule["errnoRet"]))
    args = rule.get("args") or []
    array = (ArgCmp * max(1, len(args)))(
        *(ArgCmp(a["index"], CMP_OPS[a["op"]], a["value"], a.get("valueTwo", 0)) for a in args)
    )
    for name in rule["names"]:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr == -1:  # not a syscall libseccomp knows on any architecture: nothing to deny
            continue
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(args), array)
        if rc not in (0, -17):
            raise OSError(-rc, f"seccomp rule for {name}: {os.strerror(-rc)}")


def annotation(profile: dict[str, Any]) -> dict[str, str]:
    """``{ANNOTATION: base64 BPF}``, or nothing (crun compiles the JSON) if that fails."""
    try:
        return {ANNOTATION: base64.b64encode(compile_profile(profile)).decode()}
    except (OSError, ValueError, KeyError) as exc:
        log.warning("seccomp precompilation unavailable (%s); crun compiles the profile", exc)
        return {}
