"""The backup journal: what this runner knows about one environment's files, on disk.

One small JSON file per environment (``<work>/journal/<env-id>.json``, replaced atomically), so
that a runner killed at any instant finds, at its next pass, the state it was in:

* ``local_files``: this runner holds the environment's files (made here, or restored and put in
  place). Absent, a start must restore the latest verified backup first -- and a workspace
  directory that happens to exist is a leftover, not the environment's work.
* ``pending``: restic wrote this snapshot of quiet files, and it has not been verified and
  recorded yet. The next pass verifies and records it instead of backing up again: recovery
  from a crash between "written" and "recorded" uses exactly the snapshot that was written.
* ``quiet`` and ``snapshot``: the files have not changed since the verified ``snapshot`` (set
  after the backup at stop, cleared before every start), so a later pass can hand the
  environment back to the plane without another backup.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Journal:
    env_id: str
    local_files: bool = False
    snapshot: str | None = None
    quiet: bool = False
    pending: str | None = None
    pending_summary: dict[str, Any] = field(default_factory=dict)
    """What restic said about the pending snapshot (size, files, duration), for the record."""
    last_backup_at: float = 0.0
    """Wall-clock time of the last recorded backup (periodic backups count from it)."""
    writing: bool = False
    """restic is writing a backup (set before, cleared after): found set, the runner was killed
    mid-write and the packs it wrote belong to no snapshot (the next backup prunes first)."""
    backup_request: int = 0
    """The last ``spec.backup_requested`` acted on (``roost env backup``)."""


class JournalStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, env_id: str) -> Path:
        return self.dir / f"{env_id}.json"

    def load(self, env_id: str) -> Journal:
        """The journal, or an empty one (nothing known: no local files)."""
        try:
            doc = json.loads(self.path(env_id).read_text())
        except (OSError, ValueError):
            return Journal(env_id)
        known = set(Journal.__dataclass_fields__)
        return Journal(**{k: v for k, v in doc.items() if k in known})

    def save(self, journal: Journal) -> None:
        path = self.path(journal.env_id)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(asdict(journal), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def remove(self, env_id: str) -> None:
        self.path(env_id).unlink(missing_ok=True)
