"""The escape probes, run *inside* an environment (``python3 -c <this file> <config json>``).

Standard library only: it runs on the image's Python. Every check prints one line::

    PASS <check> <detail>      the boundary held
    FAIL <check> <detail>      it did not (the test lists every FAIL line)
    SKIP <check> <reason>      not applicable here, said why (never silently)
    INFO <key> <value>         facts the test evaluates itself (id maps, addresses)

Nothing here is meant to succeed at anything dangerous: every call is made with arguments
that would fail harmlessly even if the boundary were gone (a NULL buffer, an invalid flag), so
that reaching the kernel's implementation shows as EFAULT/EINVAL/success instead of EPERM, and
whatever a broken boundary lets through changes nothing on the host. The config (JSON) says what
to expect: the documented capability set, the masked paths, the targets that must be
unreachable, the strings that must not appear.
"""

import contextlib
import ctypes
import errno
import glob
import json
import os
import platform
import re
import signal
import socket
import stat
import sys
import tempfile
import time

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
SYSCALLS = {  # x86_64, aarch64
    "kexec_load": (246, 104), "init_module": (175, 105), "open_by_handle_at": (304, 265),
    "bpf": (321, 280), "perf_event_open": (298, 241), "keyctl": (250, 219),
    "reboot": (169, 142), "swapon": (167, 224), "acct": (163, 89), "clock_settime": (227, 112),
    "unshare": (272, 97),
}  # fmt: skip
ARCH = 0 if platform.machine() == "x86_64" else 1
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x20000, 0x10000000, 0x20000000
MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
MNT_DETACH = 2
BLOCKED_ERRNOS = (errno.EPERM, errno.ENOSYS)  # the profile says EPERM; ENOSYS: not there at all
TOKEN = re.compile(rb"roost_[0-9a-z]{6,}_[A-Za-z0-9_-]{16,}")


def out(status: str, check: str, detail: object = "") -> None:
    text = " ".join(str(detail).split())
    print(f"{status} {check} {text}".rstrip(), flush=True)


def ok(check: str, passed: bool, detail: object = "") -> None:
    out("PASS" if passed else "FAIL", check, detail)


def syscall(name: str, *args: int | None) -> tuple[int, int]:
    ctypes.set_errno(0)
    result = LIBC.syscall(SYSCALLS[name][ARCH], *(ctypes.c_long(a or 0) for a in args))
    return int(result), ctypes.get_errno()


def describe(result: int, err: int) -> str:
    return f"returned {result}" if result >= 0 else f"errno {errno.errorcode.get(err, err)}"


def in_child(fn, timeout: float = 20.0) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """Run ``fn()`` (returns bytes) in a forked child: changes it makes stay there."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            data = fn()
        except BaseException as exc:  # report anything
            data = f"exception {type(exc).__name__}: {exc}".encode()
        os.write(w, data)
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    chunks = []
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    return status, b"".join(chunks)


# --- identity, capabilities ------------------------------------------------------------------


def status_fields() -> dict[str, str]:
    with open("/proc/self/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def check_identity(cfg: dict) -> None:  # type: ignore[type-arg]
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/self/{name}") as f:
            out("INFO", name, ";".join(" ".join(line.split()) for line in f))
    out("INFO", "id", f"{os.getuid()}:{os.getgid()}")


def check_capabilities(cfg: dict) -> None:  # type: ignore[type-arg]
    fields = status_fields()
    # gVisor has no CapAmb line (it has no ambient capabilities): absent reads as empty
    sets = {
        k: int(fields.get(k, "0"), 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
    }
    expected = sum(1 << bit for bit in cfg["capabilities"].values())
    forbidden = {name: bit for name, bit in cfg["forbidden_capabilities"].items()}
    ok("caps.bounding", sets["CapBnd"] == expected,
       f"CapBnd={sets['CapBnd']:x} documented={expected:x}")  # fmt: skip
    if os.getuid() == 0:
        ok("caps.effective", sets["CapEff"] == expected == sets["CapPrm"],
           f"CapEff={sets['CapEff']:x} CapPrm={sets['CapPrm']:x}")  # fmt: skip
    else:
        ok("caps.effective", sets["CapEff"] == sets["CapPrm"] == 0,
           f"unprivileged user: CapEff={sets['CapEff']:x} CapPrm={sets['CapPrm']:x}")  # fmt: skip
    held = [n for n, bit in forbidden.items() if any(v & (1 << bit) for v in sets.values())]
    ok("caps.forbidden", not held, f"held: {held}" if held else f"none of {sorted(forbidden)}")
    ok("caps.ambient_inheritable", sets["CapAmb"] == 0 and sets["CapInh"] == 0,
       f"CapAmb={sets['CapAmb']:x} CapInh={sets['CapInh']:x}")  # fmt: skip
    out("INFO", "no_new_privs", fields.get("NoNewPrivs", "?"))


# --- seccomp ---------------------------------------------------------------------------------

HARMLESS_CALLS = {
    # If any of these reached the kernel's implementation they fail on their arguments (NULL
    # pointers, bad flags, bad magic) -- or, for keyctl, only read the session keyring's id.
    "kexec_load": (0, 0, 0, 0x7FFF0000),  # flags: an unknown architecture -> EINVAL
    "init_module": (0, 0, 0),  # NULL image -> EFAULT
    "open_by_handle_at": (-1, 0, 0),  # bad fd, NULL handle -> EBADF/EFAULT
    "bpf": (0, 0, 0),  # BPF_MAP_CREATE with a NULL attr -> EINVAL/EFAULT
    "perf_event_open": (0, 0, -1, -1, 0),  # NULL attr -> EFAULT
    "keyctl": (0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring: succeeds
    "reboot": (0, 0, 0, 0),  # bad magic -> EINVAL
    "swapon": (0, 0),  # NULL path -> EFAULT
    "acct": (0,),  # NULL: accounting off (per pid namespace) -- only if allowed
    "clock_settime": (0, 0),  # CLOCK_REALTIME, NULL time -> EFAULT
}


def check_seccomp(cfg: dict) -> None:  # type: ignore[type-arg]
    mode = status_fields().get("Seccomp", "?")
    ok("seccomp.mode", mode == "2", f"Seccomp: {mode} (2 = filter)")
    for name, args in HARMLESS_CALLS.items():
        result, err = syscall(name, *args)
        ok(f"seccomp.{name}", result < 0 and err in BLOCKED_ERRNOS, describe(result, err))

    def nested_userns() -> bytes:
        result, err = syscall("unshare", CLONE_NEWUSER)
        return describe(result, err).encode()

    _, data = in_child(nested_userns)
    ok("seccomp.nested_userns", data in (b"errno EPERM", b"errno ENOSYS"), data.decode())


# --- /proc, /sys ------------------------------------------------------------------------------


def _content(path: str) -> str:
    if os.path.isdir(path):
        return ",".join(sorted(os.listdir(path)))
    with open(path, "rb") as f:
        return f.read(4096).decode(errors="replace")


def check_masked(cfg: dict) -> None:  # type: ignore[type-arg]
    for path in cfg["masked"]:
        name = path.replace("/", ".").strip(".")
        if not os.path.lexists(path):
            out("PASS", f"masked.{name}", "absent")
            continue
        try:
            content = _content(path)
            ok(f"masked.{name}", content == "", f"{len(content)} bytes visible" if content else "")
        except OSError as exc:
            ok(f"masked.{name}", True, f"unreadable: {errno.errorcode.get(exc.errno or 0)}")
        if LIBC.umount2(path.encode(), MNT_DETACH) == 0:
            out("FAIL", f"masked_umount.{name}", "unmounted: the real file is visible now")
        else:
            out("PASS", f"masked_umount.{name}", describe(-1, ctypes.get_errno()))
        if LIBC.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND, None) == 0:
            out("FAIL", f"masked_remount.{name}", "remounted read-write")
        else:
            out("PASS", f"masked_remount.{name}", describe(-1, ctypes.get_errno()))


def _write_refused(path: str) -> tuple[bool, str]:
    """Open for writing, write nothing: refused is the pass."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        return True, f"open refused: {errno.errorcode.get(exc.errno or 0)}"
    os.close(fd)
    return False, "opened for writing"


def check_readonly(cfg: dict) -> None:  # type: ignore[type-arg]
    targets = {"proc_sys": "/proc/sys/kernel/hostname", "sysrq_trigger": "/proc/sysrq-trigger",
               "proc_sys_vm": "/proc/sys/vm/drop_caches"}  # fmt: skip
    for name, path in targets.items():
        if not os.path.exists(path):
            out("PASS", f"readonly.{name}", "absent")
            continue
        ok(f"readonly.{name}", *_write_refused(path))
    for path in ("/proc/sys", "/proc/sysrq-trigger"):
        name = path.replace("/", ".").strip(".")
        if LIBC.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND, None) == 0:
            out("FAIL", f"readonly_remount.{name}", "remounted read-write")
        else:
            out("PASS", f"readonly_remount.{name}", describe(-1, ctypes.get_errno()))


def _fresh_proc_leaks(masked: list[str]) -> bytes:
    """In a child: mount a new proc wherever we can, and report any masked file it shows."""
    target = tempfile.mkdtemp(prefix="roost-probe-proc-")
    if LIBC.mount(b"proc", target.encode(), b"proc", 0, None) != 0:
        return f"mount refused: {describe(-1, ctypes.get_errno())}".encode()
    leaks = []
    for path in masked:
        if not path.startswith("/proc/"):
            continue
        fresh = os.path.join(target, path[len("/proc/") :])
        with contextlib.suppress(OSError):
            if _content(fresh):
                leaks.append(path)
    ro, _ = _write_refused(os.path.join(target, "sysrq-trigger"))
    if not ro:
        leaks.append("sysrq-trigger writable")
    return (f"LEAK {leaks}" if leaks else "mounted, but nothing unmasked").encode()


def check_fresh_proc(cfg: dict) -> None:  # type: ignore[type-arg]
    masked = cfg["masked"]
    _, direct = in_child(lambda: _fresh_proc_leaks(masked))
    ok("fresh_proc.direct", not direct.startswith(b"LEAK"), direct.decode())

    def via_namespaces() -> bytes:
        result, err = syscall("unshare", CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)
        if result < 0:
            return f"unshare refused: {describe(result, err)}".encode()
        _, data = in_child(lambda: _fresh_proc_leaks(masked))  # PID 1 of the new pid ns
        return data

    _, nested = in_child(via_namespaces)
    ok("fresh_proc.new_namespaces", not nested.startswith(b"LEAK"), nested.decode())


def check_cgroups(cfg: dict) -> None:  # type: ignore[type-arg]
    agents = glob.glob("/sys/fs/cgroup/*/release_agent") + glob.glob("/sys/fs/cgroup/release_agent")
    refused = [_write_refused(p) for p in agents]
    ok("cgroup.release_agent", all(r for r, _ in refused),
       f"{len(agents)} found, all refused" if agents else "none visible")  # fmt: skip
    made = []
    for base in glob.glob("/sys/fs/cgroup/*/") + glob.glob("/sys/fs/cgroup/*.procs"):
        path = os.path.join(os.path.dirname(base) if base.endswith(".procs") else base, "probe")
        try:
            os.mkdir(path)
        except OSError:
            continue
        made.append(base)
        os.rmdir(path)
    with open("/proc/self/mountinfo") as f:
        writable = [line.split()[4] for line in f
                    if line.split(" - ")[1].split()[0] in ("cgroup", "cgroup2")
                    and "ro" not in line.split()[5].split(",")]  # fmt: skip
    ok("cgroup.readonly", not made and not writable,
       f"mkdir allowed in {made}, writable mounts {writable}" if made or writable
       else "every cgroup mount read-only, mkdir refused")  # fmt: skip

    def mount_v1() -> bytes:
        target = tempfile.mkdtemp(prefix="roost-probe-cg-")
        for opts in (b"memory", b"none,name=roostprobe", b"rdma"):
            if LIBC.mount(b"cgroup", target.encode(), b"cgroup", 0, opts) == 0:
                return f"mounted cgroup v1 ({opts.decode()})".encode()
        return f"refused: {describe(-1, ctypes.get_errno())}".encode()

    _, data = in_child(mount_v1)
    ok("cgroup.mount_v1", data.startswith(b"refused"), data.decode())
    with open("/proc/self/cgroup") as f:
        paths = {line.strip().split(":", 2)[2] for line in f if line.strip()}
    out("INFO", "cgroup_paths", ",".join(sorted(paths)))


# --- mounts, devices, processes ---------------------------------------------------------------


def check_mountinfo(cfg: dict) -> None:  # type: ignore[type-arg]
    """Runner state and runtime sockets must not show; host paths at all are a separate check
    (crun shows the host paths of the environment's own bundle: a known, documented gap)."""
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    for name, words in cfg["mountinfo_forbidden"].items():
        bad = [line for line in lines if any(w in line for w in words)]
        ok(f"mountinfo.{name}", not bad, f"{len(bad)} lines, e.g. {bad[0][:240]}" if bad
           else f"none of {words}")  # fmt: skip
    sockets = [line for line in lines if re.search(r"\.sock\b|/run/(crun|runsc|docker)", line)]
    ok("mountinfo.runtime_sockets", not sockets, sockets[:2] if sockets else "none")
    host = [line for line in lines if any(w in line for w in cfg["host_paths"])]
    ok("mountinfo.host_paths", not host, f"{len(host)} lines name host paths, e.g. "
       f"{host[0][:240]}" if host else "no host path")  # fmt: skip


def check_devices(cfg: dict) -> None:  # type: ignore[type-arg]
    allowed = {tuple(d) for d in cfg["devices"]}
    odd = []
    for root, dirs, files in os.walk("/dev"):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if stat.S_ISBLK(st.st_mode):
                odd.append(f"{path} (block)")
            elif stat.S_ISCHR(st.st_mode):
                major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
                if (major, minor) not in allowed and major != 136:  # 136: pty slaves
                    odd.append(f"{path} ({major}:{minor})")
    ok("devices.standard_only", not odd, odd or "null zero full tty random urandom ptmx pts")
    target = os.path.join(os.path.expanduser("~"), "roost-probe-blk")
    try:
        os.mknod(target, 0o600 | stat.S_IFBLK, os.makedev(8, 0))
    except OSError as exc:
        out("PASS", "devices.mknod_block", f"refused: {errno.errorcode.get(exc.errno or 0)}")
    else:
        os.unlink(target)
        out("FAIL", "devices.mknod_block", "made a block device node (8:0)")


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def check_processes(cfg: dict) -> None:  # type: ignore[type-arg]
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    marker = cfg["host_marker"].encode()
    mine = str(os.getpid())  # our own command line carries the config, marker included
    seen = [p for p in pids if p != mine and marker in _cmdline(p)]
    ok("processes.host_invisible", not seen, f"{len(pids)} processes visible, no host marker")
    init = _cmdline("1").split(b"\0")[0].decode(errors="replace")
    ok("processes.own_init", init == cfg["init"], f"PID 1 is {init}")


def check_environ(cfg: dict) -> None:  # type: ignore[type-arg]
    secrets = [s.encode() for s in cfg["secrets"]]
    found, readable = [], 0
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        readable += 1
        if TOKEN.search(env) or any(s in env for s in secrets):
            found.append(f"{pid}:{_cmdline(pid)[:40]!r}")
    ok("environ.no_tokens_or_secrets", not found,
       f"found in {found}" if found else f"{readable} environments read")  # fmt: skip


# --- network ----------------------------------------------------------------------------------


def _connect(host: str, port: int, timeout: float = 2.0) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "connected"
    except TimeoutError:
        return "timed out"
    except OSError as exc:
        return f"refused: {errno.errorcode.get(exc.errno or 0, exc)}"


def check_network(cfg: dict) -> None:  # type: ignore[type-arg]
    me = cfg["own_address"]
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))  # noqa: S104 - the positive control: our own address
        listener.listen()
        result = _connect(me, listener.getsockname()[1])
    ok("net.own_address_works", result == "connected", f"{me}: {result}")
    opened = []
    raw = ((socket.AF_PACKET, socket.SOCK_RAW, 0x0300),  # ETH_P_ALL: whole frames
           (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))  # fmt: skip
    for family, kind, proto in raw:
        try:
            socket.socket(family, kind, proto).close()
            opened.append(f"{family.name}/{kind.name}")
        except OSError:
            pass
    ok("net.raw_sockets", not opened, f"opened {opened}: forged frames or source addresses"
       if opened else "refused: CAP_NET_RAW does not reach a netns the host owns")  # fmt: skip
    for name, (host, port) in cfg["unreachable"].items():
        result = _connect(host, port)
        ok(f"net.{name}", result != "connected", f"{host}:{port} {result}")


# --- limits -----------------------------------------------------------------------------------


def check_pids_limit(cfg: dict) -> None:  # type: ignore[type-arg]
    limit = cfg["pids_limit"]
    children = []
    try:
        for _ in range(limit * 2):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    except OSError as exc:
        detail = f"fork failed after {len(children)}: {errno.errorcode.get(exc.errno or 0)}"
    else:
        detail = f"{len(children)} forks all succeeded"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    ok("limits.pids", len(children) <= limit, f"limit {limit}: {detail}")


def check_memory_limit(cfg: dict) -> None:  # type: ignore[type-arg]
    limit = cfg["memory_limit_bytes"]

    def hog() -> bytes:
        chunks, step = [], 16 << 20
        for _ in range(2 * limit // step):
            chunks.append(bytearray(step))  # zero-filled: the pages are touched
        return f"allocated {2 * limit >> 20} MiB".encode()

    status, data = in_child(hog, timeout=60)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    held = killed or b"MemoryError" in data
    ok("limits.memory", held, f"limit {limit >> 20} MiB: " + (
        "killed (SIGKILL)" if killed else data.decode() or f"status {status}"))  # fmt: skip


SUITES = {
    "boundary": (check_identity, check_capabilities, check_seccomp, check_masked, check_readonly,
                 check_fresh_proc, check_cgroups, check_mountinfo, check_devices,
                 check_processes, check_environ, check_network),
    "pids": (check_pids_limit,),
    "memory": (check_memory_limit,),
}  # fmt: skip


def main() -> None:
    cfg = json.loads(sys.argv[1])
    os.chdir(tempfile.gettempdir())
    for check in SUITES[cfg.get("suite", "boundary")]:
        try:
            check(cfg)
        except Exception as exc:  # a broken probe is a failure, not a crash
            out("FAIL", check.__name__, f"probe error {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
