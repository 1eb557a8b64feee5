"""The ext4 filesystem of an environment's disk: making it, and holding it to its quota.

**The quota is a knob, not the filesystem's size.** The image is made ``HEADROOM`` times the
class's size (sparse: unused space costs nothing), and the environment's share of it is set with
ext4's ``reserved_clusters`` (``/sys/fs/ext4/<loop>/reserved_clusters``): clusters no data
allocation may take, root's included. Setting it to "everything but the quota" gives processes
inside exactly ``disk_gib`` of data and ENOSPC after that, and moving it changes the quota of a
mounted filesystem instantly, in both directions. Online *resizing* (``EXT4_IOC_RESIZE_FS``)
would also grow, but it needs CAP_SYS_RESOURCE, which runners in containers or on this
project's VMs do not have, and it cannot shrink at all; it is still tried for growing past the
headroom. The knob is not persistent, so it is set again on every mount.

``mkfs.ext4`` is the one process a new disk costs (about 15 ms). Options:

* ``-m <pct>``: blocks reserved for host root, sized to ``RESERVE_BYTES``. An environment's
  processes are unprivileged host users, so a full disk stops *them* while the runner (root)
  can still write the bundle files it keeps there (``config.json``, ``etc/``): an environment
  that filled its disk still restarts.
* ``lazy_itable_init``/``lazy_journal_init`` and ``nodiscard``: nothing is zeroed or discarded
  up front; the image is a sparse file and unwritten parts read as zeros anyway. Mounted with
  ``noinit_itable`` so no background thread zeroes inode tables either, and with ``discard``
  so space freed inside is punched out of the image (the host gets it back).
* The default journal stays: the workspace is the user's work.
"""

import fcntl
import os
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

RESERVE_BYTES = 64 << 20
BLOCK_SIZE = 4096
HEADROOM = 2
"""The image is this many times the class's size: the quota grows live up to there."""
EXT4_IOC_RESIZE_FS = 0x40086610  # _IOW('f', 16, __u64)
MOUNT_OPTIONS = "discard,noinit_itable"


class Ext4Error(OSError):
    pass


JOURNAL_MIB = 64
METADATA_FRACTION = 0.02
"""Inode tables (256 bytes per 16 KiB), bitmaps and descriptors: about 1.6 % of the size."""


def image_bytes(size_gib: int) -> int:
    """The image made for a disk of ``size_gib``: headroom to grow, ext4's own metadata and
    journal, and root's reserve."""
    data = int((size_gib << 30) * HEADROOM * (1 + METADATA_FRACTION))
    size = data + RESERVE_BYTES + ((JOURNAL_MIB + 64) << 20)  # + the knob's own floor
    return -(-size // BLOCK_SIZE) * BLOCK_SIZE


def mkfs(image: Path, size_bytes: int) -> None:
    """Create the sparse ``image`` and an ext4 filesystem in it."""
    with open(image, "wb") as f:
        f.truncate(size_bytes)
    reserve_pct = f"{RESERVE_BYTES / size_bytes * 100:.4f}"
    argv = [
        "mkfs.ext4", "-q", "-F", "-b", str(BLOCK_SIZE), "-m", reserve_pct,
        "-J", f"size={JOURNAL_MIB}",
        "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", str(image),
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise Ext4Error(f"mkfs.ext4 {image} failed: {result.stderr.strip()}")


@dataclass(frozen=True)
class Superblock:
    blocks: int
    root_reserved: int

    @classmethod
    def read(cls, image: Path) -> "Superblock":
        """The two counts the quota needs, from the on-disk superblock (they never change
        while mounted, so the image file's copy is good enough)."""
        with open(image, "rb") as f:
            raw = os.pread(f.fileno(), 1024, 1024)
        if struct.unpack_from("<H", raw, 0x38)[0] != 0xEF53:
            raise Ext4Error(f"{image} holds no ext4 filesystem")
        lo_blocks, lo_reserved = struct.unpack_from("<II", raw, 0x4)
        hi_blocks, hi_reserved = struct.unpack_from("<II", raw, 0x150)
        return cls(lo_blocks | hi_blocks << 32, lo_reserved | hi_reserved << 32)


def _knob_floor(sb: Superblock) -> int:
    return min(sb.blocks // 50, 4096)  # what ext4 keeps for its own metadata, at least


def max_quota(mountpoint: Path, image: Path) -> int:
    """The largest quota (bytes) this filesystem can hold without being resized."""
    sb = Superblock.read(image)
    blocks = os.statvfs(mountpoint).f_blocks - sb.root_reserved - _knob_floor(sb)
    return max(0, blocks) * BLOCK_SIZE


def set_quota(mountpoint: Path, device: str, image: Path, quota_bytes: int) -> bool:
    """Hold data to ``quota_bytes``; False when the filesystem is too small for it.

    Data may use ``f_blocks - root_reserved - reserved_clusters`` blocks (``f_blocks`` is the
    filesystem's size less its own metadata), so the knob is the rest.
    """
    sb = Superblock.read(image)
    knob = os.statvfs(mountpoint).f_blocks - sb.root_reserved - quota_bytes // BLOCK_SIZE
    if knob < _knob_floor(sb):
        return False
    Path(f"/sys/fs/ext4/{device}/reserved_clusters").write_text(str(knob))
    return True


def grow(mountpoint: Path, size_bytes: int) -> None:
    """Grow the mounted filesystem to ``size_bytes`` (the device must already be that big);
    PermissionError without CAP_SYS_RESOURCE."""
    fd = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, EXT4_IOC_RESIZE_FS, struct.pack("<Q", size_bytes // BLOCK_SIZE))
    finally:
        os.close(fd)


def usage(mountpoint: Path) -> tuple[int, int]:
    """(bytes used, bytes an unprivileged process could still write)."""
    st = os.statvfs(mountpoint)
    return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_bavail * st.f_frsize
