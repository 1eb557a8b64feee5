"""The host's space behind the environments' disks: never promise what the host does not have.

An environment's disk is a *sparse* image (``ext4.py``): it takes host space only as it is
written. Overcommitting that space -- more quota than the runner's filesystem holds -- turns a
full host into silent data loss inside the environments: the loop device's writes fail, ext4
aborts its journal and the writes of the last seconds are gone (the fault trial lost a file this
way while the status said ``running``). So every quota is *backed*: a new disk (or a bigger
quota) is made only if the runner's filesystem still has room for it after what every other disk
may still write::

    room = free space - sum(what each disk may still write: its promise - what it holds) - margin

and the runner reports as its disk capacity what it could still promise (``capacity_gib``), so
placement, which no longer overcommits disk, sends environments only where they fit.

Why not preallocate (``fallocate`` of each image): an image is ``HEADROOM`` times its quota
(the quota grows live into it), so reserving it would cost twice the quota, and the ``discard``
mount option punches freed space back out of it -- reservations that do not hold. Counting costs
two ``stat`` calls and a read per disk (about 0.14 ms; ``docs/resources.md``), off the event
loop, and keeps images sparse, so the space environments do not use stays usable by images,
caches and restores -- which is also its limit: those can still fill the host, so the margin
stays free and the health watch (``health.py``) reports a disk that failed anyway. Runners of
one host register their images in a host-wide directory (:class:`HostDisks`), so runners whose
data share a filesystem count each other's promises.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from roost.core.errors import PermanentError
from roost.runner.disks import ext4

GIB = 1 << 30
MARGIN_FRACTION = 0.02
MARGIN_MIN = 256 << 20
"""Kept free on the runner's filesystem: logs, state files and the runner's own writes."""


class NoRoom(PermanentError):
    """The runner's filesystem cannot back another disk: the start fails saying so."""

    code = "runner_disk_full"


def promise(quota_bytes: int) -> int:
    """The most host space a disk of ``quota_bytes`` can take: its data, ext4's metadata (sized
    for the whole image, headroom included), the journal, root's reserve and the knob's floor."""
    metadata = int(quota_bytes * ext4.HEADROOM * ext4.METADATA_FRACTION)
    return quota_bytes + metadata + ext4.RESERVE_BYTES + ((ext4.JOURNAL_MIB + 64) << 20)


@dataclass(frozen=True)
class Room:
    free: int
    """Bytes free on the runner's filesystem (for unprivileged users: root's reserve excluded)."""
    owed: int
    """Bytes the disks may still write (their promises less what they hold already)."""
    margin: int
    held_quota: int
    """The quotas of this runner's own disks, summed (other runners' count in ``owed``)."""

    @property
    def available(self) -> int:
        return self.free - self.owed - self.margin


def quota_file(image: Path) -> Path:
    return image.with_name(f"{image.name.removesuffix('.img')}.quota")


def quota_of(image: Path) -> int:
    """The quota a disk was last given (recorded next to its image), or, for a disk from
    before the record, what its image size allows."""
    try:
        return int(quota_file(image).read_text())
    except (OSError, ValueError):
        return int(image.stat().st_size / ext4.HEADROOM)


class HostDisks:
    """The images of every runner of this host, as links in a host-wide directory (next to the
    uid ranges): runners whose data share a filesystem share its free space, so each counts
    the others' promises too."""

    def __init__(self, directory: Path, runner: str) -> None:
        self.dir = directory
        self.runner = runner
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def add(self, env_id: str, image: Path) -> None:
        link = self.dir / f"{self.runner}.{env_id}"
        link.unlink(missing_ok=True)
        link.symlink_to(image.resolve())

    def remove(self, env_id: str) -> None:
        (self.dir / f"{self.runner}.{env_id}").unlink(missing_ok=True)

    def images(self, device: int) -> set[Path]:
        """Every registered image on the filesystem ``device`` (gone ones skipped)."""
        found = set()
        for link in self.dir.iterdir():
            try:
                target = link.resolve(strict=True)
                if target.stat().st_dev == device:
                    found.add(target)
            except OSError:
                continue  # removed while we looked, or a link left by a crash
        return found


def room(images: Path, *, skip: str = "", host: HostDisks | None = None) -> Room:
    st = os.statvfs(images)
    free = st.f_bavail * st.f_frsize
    margin = max(MARGIN_MIN, int(st.f_blocks * st.f_frsize * MARGIN_FRACTION))
    owed = quota = 0
    mine = {p.resolve() for p in images.glob("*.img")}
    others = host.images(os.stat(images).st_dev) - mine if host is not None else set()
    for image in mine | others:
        if image == (images / f"{skip}.img").resolve():
            continue
        try:
            held, q = image.stat().st_blocks * 512, quota_of(image)
        except FileNotFoundError:
            continue  # deleted while we counted
        quota += q if image in mine else 0
        owed += max(0, promise(q) - held)
    return Room(free, owed, margin, quota)


def check(images: Path, env_id: str, quota_bytes: int, host: HostDisks | None = None) -> None:
    """Raise :class:`NoRoom` unless the host can back a disk of ``quota_bytes`` for
    ``env_id`` (its own disk, if any, counted at the new size)."""
    image = images / f"{env_id}.img"
    held = image.stat().st_blocks * 512 if image.exists() else 0
    r = room(images, skip=env_id, host=host)
    need = max(0, promise(quota_bytes) - held)
    if need > r.available:
        raise NoRoom(
            f"this runner's disk cannot back a {quota_bytes / GIB:.0f} GiB environment disk: "
            f"{r.free / GIB:.1f} GiB free, {r.owed / GIB:.1f} GiB of it promised to other "
            f"environments' disks, {r.margin / GIB:.1f} GiB kept free; free space on the "
            "runner, or start the environment on another runner (`roost env start ID --runner "
            "NAME`), or pick a smaller class"
        )


def capacity_gib(images: Path, host: HostDisks | None = None) -> int:
    """What this runner reports as its disk: the quotas it holds plus what it could still back
    (placement adds the quotas it assigned and compares)."""
    r = room(images, host=host)
    per_gib = promise(2 * GIB) - promise(GIB)
    fixed = promise(GIB) - per_gib
    spare = max(0, (r.available - fixed) // per_gib)
    return (r.held_quota + GIB - 1) // GIB + spare
