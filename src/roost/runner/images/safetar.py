"""Unpacking untrusted tar archives: Python's ``data`` extraction filter, or the same rules.

Image archives and feature layers come from users and registries, so they are unpacked with
the rules of PEP 706's ``data`` filter: no member lands outside the destination (no absolute
names, no ``..``, no link pointing out), no device or FIFO, no setuid/setgid/sticky bits or
group/other write, and no owner taken from the archive. Python 3.11.4 and later ship that
filter; Debian 12's Python is 3.11.2, which has none (``extractall(filter=...)`` is a
``TypeError`` there), so on such a Python the members are checked here before extraction.
"""

import os
import tarfile
from pathlib import Path

_DROP = 0o7022  # setuid, setgid, sticky; group and other write


def extract_all(tar: tarfile.TarFile, dest: Path) -> None:
    """Every member of ``tar`` into ``dest``, by the ``data`` filter's rules."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)
    members = [_checked(member, root) for member in tar.getmembers()]
    tar.extractall(dest, members=members)  # noqa: S202 -- every member checked above


def _checked(member: tarfile.TarInfo, root: str) -> tarfile.TarInfo:
    name = member.name.lstrip("/")
    if member.ischr() or member.isblk() or member.isfifo():
        raise tarfile.TarError(f"{member.name}: a device or FIFO is not extracted")
    _inside(root, os.path.join(root, name), member.name)
    if member.issym():
        target = os.path.join(root, os.path.dirname(name), member.linkname)
        if os.path.isabs(member.linkname):
            raise tarfile.TarError(f"{member.name}: links to an absolute path")
        _inside(root, target, member.name)
    elif member.islnk():
        _inside(root, os.path.join(root, member.linkname.lstrip("/")), member.name)
    member.name = name
    member.mode &= ~_DROP
    if member.isreg() or member.isdir():
        member.mode |= 0o600 if member.isreg() else 0o700
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _inside(root: str, path: str, name: str) -> None:
    real = os.path.realpath(path)
    if real != root and not real.startswith(root + os.sep):
        raise tarfile.TarError(f"{name}: would land outside the destination")
