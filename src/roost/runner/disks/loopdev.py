"""Loop devices through their ioctls (no ``losetup`` process).

``attached`` asks ``/dev/loop-control`` for a free device and configures it in one
``LOOP_CONFIGURE`` call (Linux 5.8+) with:

* ``LO_FLAGS_AUTOCLEAR``: the device lets go of its file when the last mount of it goes, so an
  unmount (or a lazy unmount that completes later) never leaks a device;
* ``LO_FLAGS_DIRECT_IO`` with a 4 KiB block size, when the backing filesystem allows it: reads
  and writes bypass the backing file's page cache, so data is cached once (in the environment's
  filesystem), not twice. Without it (tmpfs, some network filesystems) the device still works.

Two attaches racing for the same free device: the loser's ``LOOP_CONFIGURE`` fails with EBUSY
and it asks for another one.
"""

import contextlib
import ctypes
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOOP_CONFIGURE = 0x4C0A
LOOP_SET_CAPACITY = 0x4C07
LOOP_CTL_GET_FREE = 0x4C82
LO_FLAGS_AUTOCLEAR, LO_FLAGS_DIRECT_IO = 4, 16
LO_NAME_SIZE, LO_KEY_SIZE = 64, 32
BLOCK_SIZE = 4096


class LoopInfo64(ctypes.Structure):
    _fields_ = (
        ("lo_device", ctypes.c_uint64),
        ("lo_inode", ctypes.c_uint64),
        ("lo_rdevice", ctypes.c_uint64),
        ("lo_offset", ctypes.c_uint64),
        ("lo_sizelimit", ctypes.c_uint64),
        ("lo_number", ctypes.c_uint32),
        ("lo_encrypt_type", ctypes.c_uint32),
        ("lo_encrypt_key_size", ctypes.c_uint32),
        ("lo_flags", ctypes.c_uint32),
        ("lo_file_name", ctypes.c_uint8 * LO_NAME_SIZE),
        ("lo_crypt_name", ctypes.c_uint8 * LO_NAME_SIZE),
        ("lo_encrypt_key", ctypes.c_uint8 * LO_KEY_SIZE),
        ("lo_init", ctypes.c_uint64 * 2),
    )


class LoopConfig(ctypes.Structure):
    _fields_ = (
        ("fd", ctypes.c_uint32),
        ("block_size", ctypes.c_uint32),
        ("info", LoopInfo64),
        ("reserved", ctypes.c_uint64 * 8),
    )


def _configure(device_fd: int, backing_fd: int, name: str, direct_io: bool) -> None:
    config = LoopConfig()
    config.fd = backing_fd
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR | (LO_FLAGS_DIRECT_IO if direct_io else 0)
    if direct_io:
        config.block_size = BLOCK_SIZE
    encoded = name.encode()[: LO_NAME_SIZE - 1]
    ctypes.memmove(config.info.lo_file_name, encoded, len(encoded))
    fcntl.ioctl(device_fd, LOOP_CONFIGURE, bytes(config))


def _open_backing(image: Path, direct_io: bool) -> int:
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_DIRECT if direct_io else 0)
    return os.open(image, flags)


def _bind_free(control: int, image: Path) -> tuple[Path, int]:
    """A free device bound to ``image``, and an open descriptor of it."""
    for _ in range(32):
        device = Path(f"/dev/loop{fcntl.ioctl(control, LOOP_CTL_GET_FREE)}")
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
        try:
            for direct_io in (True, False):
                try:
                    backing = _open_backing(image, direct_io)
                except OSError as exc:
                    if direct_io and exc.errno == errno.EINVAL:
                        continue  # the backing filesystem has no O_DIRECT
                    raise
                try:
                    _configure(fd, backing, str(image), direct_io)
                except OSError as exc:
                    if direct_io and exc.errno == errno.EINVAL:
                        continue  # block size or alignment refused: buffered it is
                    raise
                finally:
                    os.close(backing)
                return device, fd
        except OSError as exc:
            os.close(fd)
            if exc.errno == errno.EBUSY:
                continue  # another attach took this device first
            raise
        os.close(fd)
    raise OSError(errno.EBUSY, "no free loop device after 32 tries")


@contextlib.contextmanager
def attached(image: Path) -> Iterator[Path]:
    """A loop device backed by ``image`` for the body, which mounts it.

    Autoclear detaches a device at its last close: the body's mount keeps it open from then
    on, and if the body fails, leaving the block detaches the device again.
    """
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        device, fd = _bind_free(control, image)
    finally:
        os.close(control)
    try:
        yield device
    finally:
        os.close(fd)


def set_capacity(device: Path) -> None:
    """Make ``device`` see its backing file's new size (after the file grew)."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, LOOP_SET_CAPACITY, 0)
    finally:
        os.close(fd)
