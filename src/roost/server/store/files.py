"""The plane's files on disk: a private data directory and private SQLite files.

The data directory holds the database, the secrets master key and the first admin's token, so
it is 0700 and the database files (``roost.db`` and SQLite's ``-wal`` and ``-shm``, which SQLite
creates with the database file's mode) are 0600 -- also on a plane that started with laxer
modes, which is fixed at every start. One exception: when a runner's data directory lives
inside it (``roost up``, or ``roost runner`` with the default directories on the plane's host),
the directory is 0711 -- traversable, not listable -- because the runner's sandboxed git clones
(another uid) must reach ``runner/workspaces/<id>``; every file in it stays private.
"""

import os
from pathlib import Path

from sqlalchemy.engine import make_url

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def protect(data_dir: Path, database_url: str, *, runner_inside: bool = False) -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    hosts_runner = runner_inside or (data_dir / "runner").is_dir()
    data_dir.chmod(0o711 if hosts_runner else 0o700)
    database = sqlite_path(database_url)
    if database is None:
        return
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not database.exists():  # created private, so its WAL and SHM files are too
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in SQLITE_SUFFIXES:
        path = database.with_name(database.name + suffix)
        if path.exists():
            path.chmod(0o600)


def sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)
