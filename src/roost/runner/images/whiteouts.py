"""OCI whiteouts, converted to the form overlayfs reads.

A layer deletes what lower layers have with marker files (OCI image spec, "whiteouts"):

* ``dir/.wh.<name>``: ``dir/<name>`` of lower layers is gone. Overlayfs spells this as a
  character device 0/0 named ``<name>``.
* ``dir/.wh..wh..opq``: ``dir`` is *opaque*, none of its lower content shows. Overlayfs spells
  this as the xattr ``trusted.overlay.opaque=y`` on ``dir``.

Converting once at unpack time means the layer directory can be stacked as an overlay
``lowerdir`` as is. The spec says a whiteout hides only *lower* layers; if the same layer also
has ``<name>`` itself, that entry wins and the marker is just dropped (overlay could not express
both anyway).

Unprivileged processes cannot set ``trusted.*`` xattrs; there we write ``user.overlay.opaque``,
which is what overlayfs reads when mounted with ``userxattr`` (rootless). As root, the runner's
case, it is ``trusted.overlay.opaque``. Character devices 0/0 may be created without privilege
since Linux 5.8, precisely for whiteouts.
"""

import os
import shutil
import stat

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_AUFS_META_PREFIX = ".wh..wh."  # aufs bookkeeping (.wh..wh.plnk, ...): meaningless to overlay


def opaque_xattr() -> str:
    return "trusted.overlay.opaque" if os.geteuid() == 0 else "user.overlay.opaque"


def convert_whiteouts(root: str | os.PathLike[str]) -> int:
    """Convert every whiteout under ``root`` in place; return how many markers were handled.

    ``os.walk`` does not follow symlinks, so every directory visited is a real directory inside
    ``root`` and nothing outside is touched.
    """
    xattr = opaque_xattr()
    converted = 0
    for dirpath, dirnames, filenames in os.walk(root):
        markers = [n for n in (*dirnames, *filenames) if n.startswith(WHITEOUT_PREFIX)]
        if not markers:
            continue
        before = os.lstat(dirpath)
        for name in markers:
            _convert(dirpath, name, xattr)
        # Removing markers touched the directory; keep the mtime the layer gave it.
        os.utime(dirpath, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)
        dirnames[:] = [d for d in dirnames if not d.startswith(WHITEOUT_PREFIX)]
        converted += len(markers)
    return converted


def _convert(dirpath: str, name: str, xattr: str) -> None:
    marker = os.path.join(dirpath, name)
    _remove(marker)
    if name == OPAQUE_MARKER:
        os.setxattr(dirpath, xattr, b"y", follow_symlinks=False)
        return
    if name.startswith(_AUFS_META_PREFIX):
        return
    hidden = name.removeprefix(WHITEOUT_PREFIX)
    if hidden in ("", ".", ".."):
        return
    target = os.path.join(dirpath, hidden)
    if not os.path.lexists(target):
        os.mknod(target, stat.S_IFCHR, os.makedev(0, 0))


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def is_whiteout(path: str | os.PathLike[str]) -> bool:
    """True for an overlay whiteout (character device 0/0)."""
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
