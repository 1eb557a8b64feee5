"""Runners: the hosts that turn environment specs into running environments."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from roost.core.schemas.base import Input, Output
from roost.core.schemas.projects import Runtime

RunnerState = Literal["online", "offline", "lost"]


class Capacity(Input):
    cpu: float = Field(default=0, ge=0)
    memory_mib: int = Field(default=0, ge=0)
    disk_gib: int = Field(default=0, ge=0)
    environments: int = Field(default=0, ge=0)


class RunnerInfo(Input):
    """What a runner says about itself when it registers and on every heartbeat."""

    region: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    capacity: Capacity = Field(default_factory=Capacity)
    runtimes: list[Runtime] = Field(default_factory=lambda: list[Runtime](["container"]))
    version: str = ""
    access_url: str | None = None
    """Where users reach this runner's exec endpoint and port proxy (http://host:port)."""
    ssh_address: str | None = None
    """Where users reach this runner's SSH gateway (host:port); ``None``: no gateway."""
    ssh_host_key: str | None = None
    """The gateway's public host key (OpenSSH one-line form), for clients' known_hosts."""
    proxy_domain: str | None = None
    """Port proxy host form: ``<port>-<env-id>.<proxy_domain>`` (see ``roost.core.access_urls``)."""
    images: list[str] = Field(default_factory=list)
    backup_location: str | None = None
    """Where this runner keeps backups (``file://<machine-id>/<dir>`` or an S3 URL): runners
    with the same location can restore each other's environments."""


class RunnerRegister(Input):
    registration_token: str
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")
    info: RunnerInfo = Field(default_factory=RunnerInfo)


class Heartbeat(Input):
    info: RunnerInfo
    """``backup_location`` in it is ignored: the plane keeps the one set at registration or by
    an admin (``PUT /runners/{runner}/backup-location``)."""


class BackupLocationUpdate(Input):
    backup_location: str | None = Field(default=None, max_length=2000)


class Runner(Output):
    id: str
    name: str
    region: str
    labels: dict[str, str] = Field(default_factory=dict)
    capacity: Capacity = Field(default_factory=Capacity)
    allocated: Capacity = Field(default_factory=Capacity)
    runtimes: list[str] = Field(default_factory=list)
    version: str = ""
    access_url: str | None = None
    ssh_address: str | None = None
    ssh_host_key: str | None = None
    proxy_domain: str | None = None
    images: list[str] = Field(default_factory=list)
    backup_location: str | None = None
    state: RunnerState = "offline"
    draining: bool = False
    """Takes no new environments; ``roost runner drain`` is moving its environments off."""
    last_heartbeat: datetime | None = None
    created_at: datetime


class RunnerRegistered(Output):
    runner: Runner
    token: str
    """The runner's own credential; keep it (the runner stores it 0600 in its data dir)."""


class RunnerDrain(Output):
    """What ``roost runner drain`` did."""

    runner: Runner
    moving: list[str] = Field(default_factory=list)
    """Environments on their way off the runner."""
    stuck: dict[str, str] = Field(default_factory=dict)
    """Environment id -> why it cannot move now (it stays; drain again when fixed)."""
