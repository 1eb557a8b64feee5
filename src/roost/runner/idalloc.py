"""User-id ranges: one private 65,536-id range per environment, for the whole host.

Environment N's root is host uid ``BASE + N * 65536``. Allocation must be unique across every
runner on the host (two runners on one machine must never hand out the same range, or their
environments could touch each other's files), and must survive restarts (an environment's
overlay upper directory stores its files under its range, so it keeps the range for life).

So a slot is a file ``<dir>/<N>`` created with ``O_CREAT | O_EXCL`` -- atomic across processes --
holding who owns it. Freeing is unlinking. No lock, no database.

**A range is owned by (runner, environment)**, and only its owner releases it. Runners of one
host share the directory, and an environment can move from one of them to another: keyed by the
environment alone, a late pass of the runner it left would find the range the new runner uses
and free it, and the next environment would get the same host uids as a running one. Keyed by
both, the new runner gets a range of its own (the restore maps the files into it) and the old
one can only free what it allocated. ``<dir>/owners/<runner>/<env>`` links to the slot, and the
slot file names both, so a stale link never frees someone else's slot.

Reserved: ids from ``WORKSPACE_ID_BASE`` up are where workspace files live on disk (see
``docs/architecture.md``), so ranges stop below it.
"""

import json
import os
import re
from pathlib import Path

from roost.core.errors import PermanentError

RANGE_SIZE = 65536
BASE = 1 << 24
WORKSPACE_ID_BASE = 0x7FFF0000
"""On-disk owner of workspace files is ``WORKSPACE_ID_BASE + <id inside the environment>``."""
MAX_SLOTS = (WORKSPACE_ID_BASE - BASE) // RANGE_SIZE
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RangesExhausted(PermanentError):
    """Every uid range of this host is taken: a start cannot get one until one is freed."""

    code = "uid_ranges_exhausted"


class IdAllocator:
    """Slots are files ``<dir>/<n>`` (created with ``O_EXCL``); ``<dir>/owners/<runner>/<owner>``
    is a symlink to its slot, so finding an owner's range is one ``readlink``, not a scan."""

    def __init__(self, directory: Path, runner: str = "runner", slots: int = MAX_SLOTS) -> None:
        if not _NAME.match(runner):
            raise ValueError(f"runner name {runner!r} cannot name an id-range owner")
        self.dir = directory
        self.runner = runner
        self.slots = min(slots, MAX_SLOTS)
        self.owners = directory / "owners" / runner
        self.owners.mkdir(parents=True, exist_ok=True, mode=0o700)

    def allocate(self, owner: str) -> int:
        """Return the host uid base of a free range, now owned by (this runner, ``owner``)
        (idempotent)."""
        existing = self.find(owner)
        if existing is not None:
            return existing
        used = {int(name) for name in os.listdir(self.dir) if name.isdigit()}
        for slot in range(self.slots):
            if slot in used:
                continue
            try:
                fd = os.open(self.dir / str(slot), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another process took it between our listing and now
            with os.fdopen(fd, "w") as f:
                json.dump(self._stamp(owner), f)
            self._link(owner, slot)
            return BASE + slot * RANGE_SIZE
        raise RangesExhausted(
            f"all {self.slots} uid ranges of this host are in use (one per environment, stopped "
            "ones included): delete environments this host no longer needs, or start this one "
            "on another runner (`roost env start ID --runner NAME`)"
        )

    def find(self, owner: str) -> int | None:
        slot = self._linked_slot(self.owners / _checked(owner))
        if slot is not None and _stamp_of(self.dir / str(slot)) == self._stamp(owner):
            return BASE + slot * RANGE_SIZE
        return self._adopt_legacy(owner)

    def release(self, owner: str) -> None:
        """Free the range only if this runner owns it for ``owner``."""
        base = self.find(owner)
        if base is not None:
            (self.dir / str((base - BASE) // RANGE_SIZE)).unlink(missing_ok=True)
        (self.owners / owner).unlink(missing_ok=True)

    def _stamp(self, owner: str) -> dict[str, str]:
        return {"runner": self.runner, "owner": owner}

    def _link(self, owner: str, slot: int) -> None:
        link = self.owners / owner
        link.unlink(missing_ok=True)
        link.symlink_to(f"../../{slot}")

    @staticmethod
    def _linked_slot(link: Path) -> int | None:
        try:
            name = os.readlink(link).rsplit("/", 1)[-1]
        except OSError:
            return None
        return int(name) if name.isdigit() else None

    def _adopt_legacy(self, owner: str) -> int | None:
        """A range allocated before ranges had runners (``owners/<owner>``, a slot naming only
        the owner) becomes this runner's: the environment's files on this host are under it."""
        legacy = self.dir / "owners" / owner
        slot = self._linked_slot(legacy)
        if slot is None or _stamp_of(self.dir / str(slot)) != {"owner": owner}:
            return None
        tmp = self.dir / f".{slot}.{os.getpid()}"
        tmp.write_text(json.dumps(self._stamp(owner)))
        os.replace(tmp, self.dir / str(slot))
        self._link(owner, slot)
        legacy.unlink(missing_ok=True)
        return BASE + slot * RANGE_SIZE


def _checked(owner: str) -> str:
    if not _NAME.match(owner):
        raise ValueError(f"{owner!r} cannot own an id range")
    return owner


def _stamp_of(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None
