"""User-id ranges: one private 65,536-id range per environment, for the whole host.

Environment N's root is host uid ``BASE + N * 65536``. Allocation must be unique across every
runner on the host (two runners on one machine must never hand out the same range, or their
environments could touch each other's files), and must survive restarts (an environment's
overlay upper directory stores its files under its range, so it keeps the range for life).

So a slot is a file ``<dir>/<N>`` created with ``O_CREAT | O_EXCL`` -- atomic across processes --
holding who owns it. Freeing is unlinking. No lock, no database.

Reserved: ids from ``WORKSPACE_ID_BASE`` up are where workspace files live on disk (see
``docs/architecture.md``), so ranges stop below it.
"""

import json
import os
from pathlib import Path

RANGE_SIZE = 65536
BASE = 1 << 24
WORKSPACE_ID_BASE = 0x7FFF0000
"""On-disk owner of workspace files is ``WORKSPACE_ID_BASE + <id inside the environment>``."""
MAX_SLOTS = (WORKSPACE_ID_BASE - BASE) // RANGE_SIZE


class RangesExhausted(Exception):
    pass


class IdAllocator:
    """Slots are files ``<dir>/<n>`` (created with ``O_EXCL``); ``<dir>/owners/<owner>`` is a
    symlink to its slot, so finding an owner's range is one ``readlink``, not a scan."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.owners = directory / "owners"
        self.owners.mkdir(parents=True, exist_ok=True, mode=0o700)

    def allocate(self, owner: str) -> int:
        """Return the host uid base of a free range, now owned by ``owner`` (idempotent)."""
        existing = self.find(owner)
        if existing is not None:
            return existing
        used = {int(name) for name in os.listdir(self.dir) if name.isdigit()}
        for slot in range(MAX_SLOTS):
            if slot in used:
                continue
            try:
                fd = os.open(self.dir / str(slot), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another process took it between our listing and now
            with os.fdopen(fd, "w") as f:
                json.dump({"owner": owner}, f)
            link = self.owners / owner
            link.unlink(missing_ok=True)
            link.symlink_to(f"../{slot}")
            return BASE + slot * RANGE_SIZE
        raise RangesExhausted(f"all {MAX_SLOTS} uid ranges on this host are in use")

    def find(self, owner: str) -> int | None:
        try:
            slot = os.readlink(self.owners / owner).rsplit("/", 1)[-1]
        except OSError:
            return None
        if not slot.isdigit() or _owner(self.dir / slot) != owner:
            return None  # a dangling link from a crash between the two writes
        return BASE + int(slot) * RANGE_SIZE

    def release(self, owner: str) -> None:
        base = self.find(owner)
        if base is not None:
            (self.dir / str((base - BASE) // RANGE_SIZE)).unlink(missing_ok=True)
        (self.owners / owner).unlink(missing_ok=True)


def _owner(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text())["owner"])
    except (OSError, ValueError, KeyError):
        return None
