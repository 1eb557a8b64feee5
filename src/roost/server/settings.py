"""Plane settings: one frozen object built by the CLI (``roost server`` / ``roost up``)."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    public_url: str = "http://127.0.0.1:8080"
    heartbeat_interval: float = 5.0
    """Runners are told to heartbeat this often (seconds)."""
    offline_after: float = 30.0
    """A runner silent this long is marked offline and its environments unknown."""
    lease_seconds: float = 30.0
    resync_seconds: float = 10.0
    """Controllers re-examine everything this often, besides being woken by changes."""
    event_retention_seconds: float = 3600.0
    cpu_overcommit: float = 4.0
    memory_overcommit: float = 2.0
    disk_overcommit: float = 1.0
    """Runners report the disk they can back (``runner/disks/space.py``): not overcommitted."""
    watch_poll_seconds: float = 0.2
    """On PostgreSQL, how often each replica looks for other replicas' changes."""
    exec_ticket_seconds: float = 60.0
    upgrade_db: bool = False
    """Upgrade an older PostgreSQL schema at start (SQLite and empty databases always are)."""
    backup_retention_seconds: float = 7 * 86400.0
    """Backups of a deleted environment are deleted this long after it."""
    web_session_seconds: float = 12 * 3600.0
    """How long a dashboard sign-in lasts."""
    oidc: "OidcSettings | None" = None
    """OpenID Connect sign-in for the dashboard, when configured."""

    runner_inside: bool = False
    """A runner keeps its data inside ``data_dir`` (``roost up``): the directory is then 0711,
    not 0700, so the runner's sandboxed clones reach its workspaces (``store/files.py``)."""


@dataclass(frozen=True)
class OidcSettings:
    """A confidential client of one OpenID provider (``roost server --oidc-issuer ...``)."""

    issuer: str
    client_id: str
    client_secret: str
    name: str = "OpenID Connect"
    """What the sign-in button says (the provider's name)."""
