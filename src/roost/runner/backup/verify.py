"""Verification: a snapshot counts only after this passes.

1. **Structure** (any backend): ``restic stats --mode raw-data`` loads and authenticates every
   tree of the snapshot and looks every data blob up in the repository index -- a snapshot whose
   trees or index entries are missing or damaged fails here.
2. **New data, read back** (local repositories): every pack file that appeared during the backup
   is read from disk and hashed; restic names a pack by the SHA-256 of its contents, so a
   truncated or damaged pack (a full disk, a failing device) is caught now, while the previous
   backup is still the one to restore from. The cost is proportional to what the backup added,
   not to the workspace: an incremental backup reads back only its few new packs.

For S3-compatible repositories step 2 is left to the store (uploads are checksummed by the S3
protocol); reading every new pack back over the network would double the traffic. Data that a
backup deduplicated against is not read again: it was verified when it was written, and a
restore checks every blob against its hash anyway (that is how a corrupted pack is detected).
"""

import asyncio
import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from roost.runner.backup.errors import BackupError
from roost.runner.backup.restic import Repository


async def verify(repo: Repository, snapshot: str, packs_before: set[str] | None) -> dict[str, Any]:
    """Raise a :class:`BackupError` unless ``snapshot`` is complete and readable; returns
    restic's raw-data statistics of it."""
    stats = await repo.raw_stats(snapshot)  # a missing snapshot fails here too
    root = repo.local_path
    if root is not None and packs_before is not None:
        new = await repo.list_packs() - packs_before
        bad = await asyncio.to_thread(damaged_packs, root, new)
        if bad:  # a concurrent backup's pack may still be being written: look once more
            await asyncio.sleep(1.0)
            bad = await asyncio.to_thread(damaged_packs, root, bad)
        if bad:
            raise BackupError(
                "corrupted",
                f"pack {bad[0][:12]} of snapshot {snapshot[:8]} does not match its hash",
            )
    return stats


def damaged_packs(root: Path, packs: Iterable[str]) -> list[str]:
    """Packs under ``root/data`` whose SHA-256 is not their name (missing ones included)."""
    names = sorted(packs)
    with ThreadPoolExecutor(max_workers=2) as pool:  # hashing releases the GIL
        results = list(pool.map(lambda n: _intact(root, n), names))
    return [name for name, ok in zip(names, results, strict=True) if not ok]


def _intact(root: Path, name: str) -> bool:
    digest = hashlib.sha256()
    try:
        with open(root / "data" / name[:2] / name, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError:
        return False
    return digest.hexdigest() == name
