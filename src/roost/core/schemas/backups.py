"""Backups of environments: verified restic snapshots, recorded by the plane.

A runner backs an environment up (at stop, and periodically while it runs), verifies the
snapshot, and only then records it with the plane (``BackupRecord``). The latest recorded backup
is the one a start restores -- on any runner that reaches the same backup ``location``.

Repositories (one per project; one per organization for environments without a project) are
encrypted by restic with a random password the plane generates on first use; the plane hands it
only to the runner an environment is assigned to (``BackupAccess``), and for deletions to
runners that reach the repository's location.
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from roost.core.schemas.base import Input, Output

BackupKind = Literal["stop", "periodic"]
BackupState = Literal["kept", "deleting"]


class BackupRecord(Input):
    """What a runner tells the plane after a snapshot passed verification."""

    snapshot: str = Field(pattern=r"^[0-9a-f]{64}$")
    repository: str
    location: str
    kind: BackupKind = "stop"
    size_bytes: int = Field(default=0, ge=0)
    """Bytes of file content in the snapshot."""
    added_bytes: int = Field(default=0, ge=0)
    """New (compressed) data this backup stored; the rest was deduplicated."""
    files: int = Field(default=0, ge=0)
    duration_seconds: float = Field(default=0.0, ge=0)
    writable_layer: bool = False
    image_ref: str = ""
    image_digest: str = ""


class Backup(Output):
    id: str
    """The restic snapshot id."""
    environment_id: str
    organization_id: str
    project_id: str | None = None
    repository: str
    location: str
    kind: str = "stop"
    state: BackupState = "kept"
    size_bytes: int = 0
    added_bytes: int = 0
    files: int = 0
    duration_seconds: float = 0.0
    writable_layer: bool = False
    image_ref: str = ""
    image_digest: str = ""
    runner_id: str | None = None
    created_at: datetime
    delete_after: datetime | None = None


class BackupAccess(Output):
    """For the environment's runner: where its backups go and the key to them."""

    repository: str
    """Repository name (``project-<id>`` or ``org-<id>``), under the runner's location."""
    password: str
    keep_writable_layer: bool = False
    """Back up the writable layer too (the class or the project asks for it)."""
    latest: Backup | None = None
    """The latest verified backup: what a start on a runner without the files restores."""


class BackupRelease(Input):
    """The runner holds nothing of the environment that ``snapshot`` does not: unassign it."""

    snapshot: str


class BackupDeletion(Output):
    repository: str
    password: str
    snapshots: list[str]


class BackupDeletions(Output):
    """Snapshots to forget, grouped by repository, for a runner at their location."""

    items: list[BackupDeletion] = Field(default_factory=list)


class BackupsDeleted(Input):
    snapshots: list[str] = Field(max_length=500)
