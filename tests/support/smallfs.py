"""A small filesystem of its own for a test (root): a sparse ext4 image on a loop device, so a
test can fill a runner's disk without touching the host's."""

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def small_fs(where: Path, size_mib: int) -> Iterator[Path]:
    """Mount a fresh ``size_mib`` ext4 filesystem at ``where/mnt``; unmounted afterwards."""
    image, mountpoint = where / "small.img", where / "mnt"
    mountpoint.mkdir(parents=True)
    with open(image, "wb") as f:
        f.truncate(size_mib << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        image.unlink(missing_ok=True)


def fill_up(directory: Path) -> Path:
    """Take every free block of ``directory``'s filesystem with one file (as root)."""
    filler = directory / "filler"
    argv = ["dd", "if=/dev/zero", f"of={filler}", "bs=4M", "status=none"]
    subprocess.run(argv, capture_output=True, check=False)
    os.sync()
    return filler
