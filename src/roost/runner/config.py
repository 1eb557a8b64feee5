"""Runner settings, built by the CLI (``roost runner`` / ``roost up``)."""

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from roost.core import access_urls


@dataclass(frozen=True)
class RunnerConfig:
    server_url: str
    data_dir: Path
    name: str
    region: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    registration_token: str | None = None
    access_listen: str = "127.0.0.1:8081"
    """Where users reach this runner (exec now; SSH gateway and port proxy later)."""
    access_url: str | None = None
    """How users reach ``access_listen`` from outside (default: http://<access_listen>)."""
    ssh_listen: str | None = None
    """The SSH gateway's address (``roost runner``: 0.0.0.0:2222); ``None``: no gateway."""
    ssh_address: str | None = None
    """How users reach ``ssh_listen`` (default: the access URL's host, the listen port)."""
    proxy_domain: str | None = None
    """Port proxy host form ``<port>-<env-id>.<domain>``; default from the access URL."""
    activity_report_seconds: float = 30.0
    """How often SSH and proxy activity is reported to the plane (batched, for idle stop)."""
    ids_dir: Path = Path("/var/lib/roost/ids")
    """Host-wide uid-range allocations, shared by every runner on this host."""
    cgroup_parent: str = "roost"
    cpu_control: bool = True
    """Fair shares with burst budgets (``runner/cpu``); off: the class's CPU is a fixed quota."""
    disk_quotas: bool = True
    """A filesystem per environment of its class's size (``runner/disks``); off: no disk limit."""
    bridge: str = "roost0"
    subnet: str = "10.211.0.0/16"
    nft_table: str = "roost"
    max_environments: int = 500
    heartbeat_seconds: float = 5.0
    resync_seconds: float = 30.0
    default_image: str | None = None
    insecure_registries: tuple[str, ...] = ()
    allow_local_repos: bool = False
    """Clone repositories given as paths on this host (the single-machine mode, ``roost up``)."""
    images_dir: Path | None = None
    """The image store (default ``<data_dir>/images``); runners on one host may share one."""
    backup_repository: str = "/var/lib/roost/backups"
    """Where backups go: a directory (runners of one host may share it) or an S3-compatible
    location in restic's syntax (``s3:https://host/bucket/prefix``, credentials in AWS_*)."""
    backup_interval_seconds: float = 3600.0
    """Periodic backups of running environments (0: only at stop)."""
    backup_limit_upload_kib: int | None = None
    backup_limit_download_kib: int | None = None

    @property
    def public_access_url(self) -> str:
        return (self.access_url or f"http://{self.access_listen}").rstrip("/")

    @property
    def public_ssh_address(self) -> str | None:
        """``host:port`` users give ``ssh``; a wildcard listen address takes the access URL's
        host, which is how users already reach this runner."""
        if self.ssh_address or not self.ssh_listen:
            return self.ssh_address
        host, _, port = self.ssh_listen.rpartition(":")
        if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104
            host = urlsplit(self.public_access_url).hostname or "127.0.0.1"
        return f"{host}:{port}"

    @property
    def public_proxy_domain(self) -> str:
        return self.proxy_domain or access_urls.default_domain(self.public_access_url)
