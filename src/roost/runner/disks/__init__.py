"""Disk quotas: one ext4 filesystem per environment, on a loop device (see :mod:`.disks`)."""

from roost.runner.disks.disks import DiskError, Disks

__all__ = ["DiskError", "Disks"]
