"""Runner settings, built by the CLI (``roost runner`` / ``roost up``)."""

from dataclasses import dataclass, field
from pathlib import Path


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
    ids_dir: Path = Path("/var/lib/roost/ids")
    """Host-wide uid-range allocations, shared by every runner on this host."""
    cgroup_parent: str = "roost"
    bridge: str = "roost0"
    subnet: str = "10.211.0.0/16"
    nft_table: str = "roost"
    max_environments: int = 500
    heartbeat_seconds: float = 5.0
    resync_seconds: float = 30.0
    default_image: str | None = None
    insecure_registries: tuple[str, ...] = ()
    images_dir: Path | None = None
    """The image store (default ``<data_dir>/images``); runners on one host may share one."""

    @property
    def public_access_url(self) -> str:
        return (self.access_url or f"http://{self.access_listen}").rstrip("/")
