"""The default base image, built here from Debian packages, so Roost needs no registry.

``mmdebstrap`` installs a Debian suite from the host's apt mirror into a directory in the
store's scratch space (about 20-40 s). That directory becomes the image's single layer as is: we
only slim it, hash it as a tar stream (``tar --sort=name``, so the diff id is what exporting it
would give) and rename it into ``layers/``, so nothing is packed and unpacked again.

A non-root user ``dev`` (uid 1000, passwordless sudo) is added, as devcontainer images have one
(VS Code's server and many tools expect it).

Slimming removes what must not be shared by every environment made from the image: SSH host keys
(if a package generated some) and the machine id; and what is only a cache: apt's package lists.

The mirror is the host's own (the first ``deb`` source for the suite in ``/etc/apt``), which is
the one that is known to be reachable; ``http://deb.debian.org/debian`` otherwise. mmdebstrap
needs root here (its root mode is the fast one and keeps ownership); other users get an error
that says so.
"""

import asyncio
import hashlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roost.runner.images.errors import ImageError, ImageUnavailable
from roost.runner.images.unpack import pipe

DEFAULT_PACKAGES: tuple[str, ...] = (
    "bash",
    "ca-certificates",
    "curl",
    "git",
    "iproute2",
    "less",
    "openssh-client",
    "openssh-sftp-server",  # so that scp/sftp through the SSH gateway work out of the box
    "procps",
    "python3",  # most development tooling (and VS Code's server helpers) expect it
    "sudo",
    "wget",  # VS Code's server install fetches with wget (or curl)
)
BASE_USER = "dev"
"""A non-root user (uid 1000, passwordless ``sudo``) in the default image, for devcontainers
that set ``remoteUser`` and for tools that refuse to run as root."""
BASE_UID = 1000
FALLBACK_MIRROR = "http://deb.debian.org/debian"
VARIANTS = frozenset(
    {
        "extract",
        "custom",
        "essential",
        "apt",
        "required",
        "minbase",
        "buildd",
        "important",
        "debootstrap",
        "standard",
    }
)
_SUITE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.:=~/-]*$")
_NETWORK_TROUBLE = (
    "Temporary failure resolving",
    "Could not connect",
    "Failed to fetch",
    "Connection timed out",
    "Unable to connect",
)


@dataclass(frozen=True)
class BuiltTree:
    path: Path
    diff_id: str
    size: int


async def build_tree(
    rootfs: Path,
    *,
    suite: str,
    mirror: str | None,
    packages: Sequence[str],
    variant: str,
    log: Path,
    apt_dir: Path = Path("/etc/apt"),
) -> BuiltTree:
    """Run mmdebstrap into ``rootfs`` (which must not exist), slim it and hash it."""
    argv = mmdebstrap_argv(
        rootfs,
        suite=suite,
        packages=packages,
        variant=variant,
        mirror=mirror or default_mirror(suite, apt_dir),
    )
    if os.geteuid() != 0:
        raise ImageError(
            "building the base image needs root (mmdebstrap runs in root mode); "
            "run it as root, or import an image instead"
        )
    if shutil.which("mmdebstrap") is None:
        raise ImageError(
            "mmdebstrap is not installed; install it with `apt-get install mmdebstrap`"
        )
    await _run(argv, log)
    await asyncio.to_thread(add_user, rootfs)
    await asyncio.to_thread(slim, rootfs)
    diff_id, size = await asyncio.to_thread(tree_digest, rootfs)
    return BuiltTree(rootfs, diff_id, size)


def mmdebstrap_argv(
    rootfs: Path, *, suite: str, packages: Sequence[str], variant: str, mirror: str
) -> list[str]:
    if variant not in VARIANTS:
        raise ImageError(f"unknown mmdebstrap variant '{variant}'; use one of {sorted(VARIANTS)}")
    if not _SUITE.match(suite):
        raise ImageError(f"'{suite}' is not a Debian suite name")
    bad = [p for p in packages if not _PACKAGE.match(p)]
    if bad:
        raise ImageError(f"not Debian package names: {', '.join(bad)}")
    if not mirror.startswith(("http://", "https://", "file:/", "deb ")):
        raise ImageError(f"mirror '{mirror}' is not an http(s) or file URL or a 'deb ...' line")
    argv = ["mmdebstrap", f"--variant={variant}", "--mode=root", "--format=directory"]
    if packages:
        argv.append("--include=" + ",".join(packages))
    return [*argv, suite, str(rootfs), mirror]


def default_mirror(suite: str, apt_dir: Path = Path("/etc/apt")) -> str:
    """The first http(s) ``deb`` source of ``suite`` the host's apt configuration names."""
    files = [apt_dir / "sources.list"]
    sources_d = apt_dir / "sources.list.d"
    if sources_d.is_dir():
        files += sorted(p for p in sources_d.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        parse = _deb822_sources if path.suffix == ".sources" else _one_line_sources
        for uri, suites in parse(text):
            if suite in suites and uri.startswith(("http://", "https://")):
                return uri.rstrip("/")
    return FALLBACK_MIRROR


def _one_line_sources(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            found.append((words[1], [words[2]]))
    return found


def _deb822_sources(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith(("#", " ", "\t")):
                fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            found += [
                (uri, fields.get("suites", "").split()) for uri in fields.get("uris", "").split()
            ]
    return found


def add_user(rootfs: Path) -> None:
    """``BASE_USER`` with a home directory and, where sudo is installed, passwordless sudo
    (blocking). ``useradd`` runs chrooted into the new tree: its passwd, group and shadow."""
    argv = ["chroot", str(rootfs), "useradd", "--create-home", "--shell", "/bin/bash",
            "--uid", str(BASE_UID), "--user-group", BASE_USER]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise ImageError(f"could not add user {BASE_USER} to the base image: {done.stderr[-500:]}")
    sudoers = rootfs / "etc" / "sudoers.d"
    if (rootfs / "usr" / "bin" / "sudo").exists() and sudoers.is_dir():
        rule = sudoers / f"roost-{BASE_USER}"
        rule.write_text(f"{BASE_USER} ALL=(ALL) NOPASSWD:ALL\n")
        rule.chmod(0o440)


def slim(rootfs: Path) -> None:
    """Remove per-machine identity and caches (blocking; never follows symlinks)."""
    for key in (rootfs / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    machine_id = rootfs / "etc" / "machine-id"
    if machine_id.is_file() and not machine_id.is_symlink():
        machine_id.write_bytes(b"")  # empty: systemd-style tools generate one at first boot
    (rootfs / "var" / "lib" / "dbus" / "machine-id").unlink(missing_ok=True)
    lists = rootfs / "var" / "lib" / "apt" / "lists"
    if lists.is_dir() and not lists.is_symlink():
        for entry in lists.iterdir():
            if entry.is_file() and not entry.is_symlink():
                entry.unlink()
    for cache in (rootfs / "var" / "cache" / "apt").glob("*.bin"):
        cache.unlink()


def tree_digest(rootfs: Path) -> tuple[str, int]:
    """The sha256 and length of the tree as a tar stream, as ``tar --sort=name`` writes it."""
    argv = [
        "tar",
        "--create",
        "--file=-",
        f"--directory={rootfs}",
        "--sort=name",
        "--numeric-owner",
        "--format=posix",
        "--pax-option=delete=atime,delete=ctime",
        "--xattrs",
        "--xattrs-include=*",
        ".",
    ]
    hasher = hashlib.sha256()
    size = 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tar:
        while chunk := pipe(tar.stdout).read(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
    if tar.returncode != 0:
        raise ImageError(
            f"could not read the built tree {rootfs} back (tar exited {tar.returncode})"
        )
    return "sha256:" + hasher.hexdigest(), size


async def _run(argv: list[str], log: Path) -> None:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = await proc.wait()
        except BaseException:
            await _stop(proc)
            raise
    if returncode != 0:
        tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-1500:]
        message = f"mmdebstrap failed (exit {returncode}); its log ends with:\n{tail}"
        if any(s in tail for s in _NETWORK_TROUBLE):
            raise ImageUnavailable(
                f"{message}\nthe mirror may be unreachable; retry later", delay=30
            )
        raise ImageError(message)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Let mmdebstrap clean up (it unmounts what it mounted on SIGTERM); then kill its group."""
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout=15)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what we started
        await proc.wait()
