"""Per-environment disks: the writable layer and the workspace share one quota.

Each environment gets its own ext4 filesystem in a sparse image file, on a loop device::

    <data>/disks/<id>.img       the image: disk_gib of data plus root's reserve (ext4.py)
    <data>/envs/<id>/           its mount point: upper/ work/ .workspace/ and the bundle files
    <data>/workspaces/<id>/     a bind mount of envs/<id>/.workspace

So the paths the rest of the runner knows -- ``envs/<id>/upper`` (the overlay's writable
layer), ``workspaces/<id>`` -- stay where they were, and both live on one filesystem of the
class's size. A process inside that fills it gets ENOSPC from its own filesystem; the host's
filesystem and every other environment's disk are untouched.

Why not project quotas (one filesystem, a project id per environment): this project's kernels
have neither ext4 quota support (``CONFIG_QFMT_V2``) nor XFS quotas; btrfs qgroups answer
EDQUOT rather than ENOSPC and need the runner's data on btrfs. A filesystem per environment
works on any host filesystem and kernel, isolates inode exhaustion too, and grows online. It
costs one mkfs (about 15 ms) on the first start and about 1 MiB of kernel memory per mounted
disk (``docs/resources.md`` has the measurements).

Lifecycle (every step idempotent, state read back from the kernel and the image files):

* :meth:`ensure` -- first start: make the image, mount it, bind the workspace. Later starts,
  or after a host reboot: mount again. Files found at the paths while the disk was not mounted
  (a backup restored onto them, a repository cloned before the disk existed) are *adopted*:
  copied into the disk, which then takes their place. The disk step and a resize set the quota
  on every call (ext4.py): a new class size applies live, larger or smaller; the driver's own
  check at prepare sets it only on a disk it mounts itself.
* The disk stays mounted while the environment is stopped: its files are still the
  environment's (backups read them after a stop).
* :meth:`remove` -- delete: unmount both, remove the image.
"""

import ctypes
import logging
import os
import shutil
import subprocess
from pathlib import Path

from roost.runner.disks import ext4, health, loopdev, space
from roost.runner.idalloc import WORKSPACE_ID_BASE

log = logging.getLogger(__name__)

WORKSPACE_DIR = ".workspace"
"""The workspace's directory on the disk (hidden: ``envs/<id>/workspace`` is the sandbox
runtime's view of it)."""
MS_BIND, MS_NODEV, MS_NOSUID, MNT_DETACH = 0x1000, 0x4, 0x2, 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class DiskError(OSError):
    pass


def _mount(source: Path, target: Path, fstype: str | None, flags: int, data: str = "") -> None:
    kind = fstype.encode() if fstype else None
    if _libc.mount(os.fsencode(source), os.fsencode(target), kind, flags, data.encode()) != 0:
        code = ctypes.get_errno()
        raise DiskError(code, f"mounting {source} on {target}: {os.strerror(code)}")


def _umount(target: Path) -> None:
    while _libc.umount2(os.fsencode(target), MNT_DETACH) == 0:
        pass  # a path mounted twice (a crash between two attempts) needs two unmounts


def _has_files(directory: Path) -> bool:
    try:
        return any(directory.iterdir())
    except FileNotFoundError:
        return False


def mount_source(mountpoint: Path) -> Path | None:
    """The block device of the filesystem at ``mountpoint`` (from its device number: no
    mount-table parse, which grows with every environment's mounts)."""
    dev = os.stat(mountpoint).st_dev
    try:
        return (
            Path("/dev") / Path(os.readlink(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")).name
        )
    except OSError:
        return None


class Disks:
    def __init__(
        self, images: Path, envs: Path, workspaces: Path, host: space.HostDisks | None = None
    ) -> None:
        self.images = images
        self.envs = envs
        self.workspaces = workspaces
        self.images.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.host = host or space.HostDisks(images / ".host", "local")
        """Every runner's disks on this host (``space.py``): what their promises share."""

    def image(self, env_id: str) -> Path:
        return self.images / f"{env_id}.img"

    def mountpoint(self, env_id: str) -> Path:
        return self.envs / env_id

    def workspace(self, env_id: str) -> Path:
        return self.workspaces / env_id

    def ensure(self, env_id: str, size_gib: int, *, refit: bool = True) -> str | None:
        """The disk made, mounted and big enough; returns why a size could not apply. Without
        ``refit``, a disk found mounted keeps the quota it has (the driver's check at prepare:
        the disk step, or a resize, set it)."""
        mountpoint, image = self.mountpoint(env_id), self.image(env_id)
        mountpoint.mkdir(parents=True, exist_ok=True, mode=0o700)
        mounted = os.path.ismount(mountpoint)
        if not mounted:
            if not image.exists():
                space.check(self.images, env_id, size_gib << 30, self.host)  # always backed
                self._make(image, ext4.image_bytes(size_gib))
                self.host.add(env_id, image)
            self._mount_adopting(env_id, image, mountpoint)
        self._bind_workspace(env_id)
        return self._fit(env_id, size_gib) if refit or not mounted else None

    def _make(self, image: Path, size: int) -> None:
        tmp = image.with_name(f".{image.name}.tmp")
        tmp.unlink(missing_ok=True)
        ext4.mkfs(tmp, size)
        os.replace(tmp, image)  # a crash before this leaves only the temporary file

    def _mount_adopting(self, env_id: str, image: Path, mountpoint: Path) -> None:
        workspace = self.workspace(env_id)
        strays = _has_files(mountpoint) or (
            _has_files(workspace) and not os.path.ismount(workspace)
        )
        if strays:
            staging = self.images / f".{env_id}.adopt"
            staging.mkdir(exist_ok=True, mode=0o700)
            self._mount_image(image, staging)
            try:
                self._adopt(mountpoint, workspace, staging)
            finally:
                _umount(staging)
            staging.rmdir()
        self._mount_image(image, mountpoint)

    @staticmethod
    def _mount_image(image: Path, target: Path) -> None:
        with loopdev.attached(image) as device:
            _mount(device, target, "ext4", MS_NODEV | MS_NOSUID, ext4.MOUNT_OPTIONS)

    @staticmethod
    def _adopt(mountpoint: Path, workspace: Path, disk: Path) -> None:
        """Copy what the paths held into the disk (owners, modes, xattrs, whiteouts, hard
        links kept), then empty them: the disk is mounted over them next."""
        log.info("moving the files at %s and %s onto their disk", mountpoint, workspace)
        sources = [(mountpoint, disk)]
        if _has_files(workspace):
            (disk / WORKSPACE_DIR).mkdir(exist_ok=True)
            sources.append((workspace, disk / WORKSPACE_DIR))
        for source, target in sources:
            argv = ["cp", "-a", "--sparse=always", f"{source}/.", f"{target}/"]
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise DiskError(f"copying {source} onto its disk failed: {result.stderr.strip()}")
        for source, _ in sources:
            for child in source.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()

    def _bind_workspace(self, env_id: str) -> None:
        source = self.mountpoint(env_id) / WORKSPACE_DIR
        target = self.workspace(env_id)
        if not source.exists():
            source.mkdir(mode=0o755)
            os.chown(source, WORKSPACE_ID_BASE, WORKSPACE_ID_BASE)
        target.mkdir(parents=True, exist_ok=True, mode=0o755)
        if not os.path.ismount(target):
            _mount(source, target, None, MS_BIND)

    def _fit(self, env_id: str, size_gib: int) -> str | None:
        """Hold the mounted disk to ``size_gib`` (live, both ways); returns a note when the
        size cannot apply or leaves the environment over it."""
        mountpoint, image = self.mountpoint(env_id), self.image(env_id)
        device = mount_source(mountpoint)
        if device is None or not device.name.startswith("loop"):
            raise DiskError(f"cannot find the loop device of {mountpoint}")
        quota = size_gib << 30
        if quota > space.quota_of(image):
            space.check(self.images, env_id, quota, self.host)  # a bigger promise
        if not ext4.set_quota(mountpoint, device.name, image, quota):
            try:
                self._grow_image(image, device, mountpoint, ext4.image_bytes(size_gib))
            except PermissionError:
                most = ext4.max_quota(mountpoint, image) >> 30
                return (
                    f"the disk can grow live to {most} GiB on this runner, not {size_gib} GiB "
                    "(growing its filesystem needs CAP_SYS_RESOURCE); it keeps its current size"
                )
            ext4.set_quota(mountpoint, device.name, image, quota)
        space.quota_file(image).write_text(str(quota))
        used, _ = ext4.usage(mountpoint)
        if used > quota:
            return (
                f"the disk holds {used / (1 << 30):.1f} GiB, more than its new size of "
                f"{size_gib} GiB: writes fail until files are deleted"
            )
        return None

    @staticmethod
    def _grow_image(image: Path, device: Path, mountpoint: Path, size: int) -> None:
        with open(image, "r+b") as f:
            f.truncate(size)
        loopdev.set_capacity(device)
        ext4.grow(mountpoint, size)
        log.info("grew the filesystem of %s to %d bytes", image, size)

    def usage(self, env_id: str) -> tuple[int, int] | None:
        """(used, total) bytes of a mounted disk."""
        mountpoint = self.mountpoint(env_id)
        return ext4.usage(mountpoint) if os.path.ismount(mountpoint) else None

    def remove(self, env_id: str) -> None:
        """Unmount the workspace and the disk and delete the image (idempotent). Whatever is
        still mounted below the disk must be unmounted first (the driver does)."""
        _umount(self.workspace(env_id))
        _umount(self.mountpoint(env_id))
        staging = self.images / f".{env_id}.adopt"
        if staging.exists():
            _umount(staging)
            staging.rmdir()
        image = self.image(env_id)
        self.host.remove(env_id)
        for path in (image, self.images / f".{env_id}.img.tmp", space.quota_file(image)):
            path.unlink(missing_ok=True)

    def health(self, env_id: str) -> str | None:
        """What is wrong with a mounted disk (``health.py``), or None."""
        mountpoint = self.mountpoint(env_id)
        if not os.path.ismount(mountpoint):
            return None
        device = mount_source(mountpoint)
        return health.problem(mountpoint, device.name if device else "")

    def repair(self, env_id: str) -> None:
        """A failed disk checked and mounted afresh (the environment does not run): unmount,
        ``e2fsck -p`` (replays the journal, fixes what is safe), and the next :meth:`ensure`
        mounts it again."""
        log.warning("repairing the disk of %s", env_id)
        _umount(self.workspace(env_id))
        _umount(self.mountpoint(env_id))
        if os.path.ismount(self.mountpoint(env_id)):
            raise DiskError(f"the disk of {env_id} is still in use; stop the environment first")
        argv = ["e2fsck", "-f", "-p", str(self.image(env_id))]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode >= 4:  # 1 and 2: errors corrected
            raise DiskError(
                f"the disk of {env_id} has errors e2fsck cannot fix on its own: "
                f"{(result.stdout + result.stderr).strip()[-500:]}"
            )

    def healths(self) -> dict[str, str | None]:
        """Every mounted disk's :meth:`health`."""
        return {env_id: self.health(env_id) for env_id in self.list()}

    def list(self) -> list[str]:
        return sorted(p.name.removesuffix(".img") for p in self.images.glob("*.img"))
