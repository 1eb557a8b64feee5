"""Where a runner keeps backups and how hard it may push while making them.

``repository`` is a directory (the default, ``/var/lib/roost/backups``; runners on one host
share it) or an S3-compatible location in restic's syntax (``s3:https://host/bucket/prefix``)
with credentials in the runner's environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``). Each project gets its own restic repository below it.

The **location** names that place for the plane: two runners with the same location reach the
same repositories, so an environment backed up by one can start on the other. A directory is
only the same place on the same machine (``file://<machine-id>/<path>``); S3 is the same place
everywhere.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from roost.runner.backup.restic import ResticOptions

CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


@dataclass(frozen=True)
class BackupSettings:
    work_dir: Path
    """Runner-local: journal, views, staging, restic's cache and scratch files."""
    repository: str = "/var/lib/roost/backups"
    interval_seconds: float = 3600.0
    """Periodic backups of running environments (0 turns them off)."""
    limit_upload_kib: int | None = None
    limit_download_kib: int | None = None
    compression: str = "auto"
    pack_size_mib: int | None = None
    retry_seconds: float = 60.0
    """First retry of a failed backup at stop; doubles up to 30 minutes."""
    deletion_poll_seconds: float = 300.0
    """How often the runner asks the plane for backups to delete."""
    concurrency: int = 2
    """Periodic backups at once (a stop's backup never waits for this)."""
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return is_local(self.repository)

    @property
    def location(self) -> str:
        return location_of(self.repository)

    def url(self, repository: str) -> str:
        if not self.is_local:
            return f"{self.repository.rstrip('/')}/{repository}"
        return str(Path(self.repository).resolve() / repository)

    def restic_options(self) -> ResticOptions:
        env = {k: v for k, v in os.environ.items() if k in CREDENTIAL_VARIABLES}
        env.update(self.credentials)
        return ResticOptions(
            cache_dir=self.work_dir / "cache", tmp_dir=self.work_dir / "tmp",
            limit_upload_kib=self.limit_upload_kib, limit_download_kib=self.limit_download_kib,
            compression=self.compression, pack_size_mib=self.pack_size_mib, extra_env=env,
        )  # fmt: skip


REMOTE_SCHEMES = ("s3:", "rest:", "sftp:", "b2:", "azure:", "gs:")


def is_local(repository: str) -> bool:
    return not repository.startswith(REMOTE_SCHEMES)


def location_of(repository: str) -> str:
    """The name of the place ``repository`` is, the same for every runner that reaches it."""
    if not is_local(repository):
        return repository.rstrip("/")
    return f"file://{machine_id()}{Path(repository).resolve()}"


def machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value:
            return value
    return os.uname().nodename
