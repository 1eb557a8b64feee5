"""Environments: ``metadata``, ``spec`` (desired state), ``status`` (observed state).

The spec is written by users (through the API) and read by runners; the status is written by the
plane's controllers and by the runner the environment is assigned to. ``spec.spec_version`` goes
up on every spec change; a runner acknowledges the version it acted on in
``status.observed_spec_version``, so "has my change been applied?" is
``observed_spec_version >= spec_version``.
"""

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from roost.core import repo_urls
from roost.core.schemas.base import Condition, Input, Output
from roost.core.schemas.organizations import NAME_PATTERN, Admission
from roost.core.schemas.projects import Resources

DesiredPhase = Literal["running", "stopped", "deleted"]
Phase = Literal[
    "pending",  # accepted, waiting for a runner
    "creating",
    "starting",
    "running",
    "updating",
    "stopping",
    "stopped",
    "deleting",
    "deleted",
    "failed",
    "unknown",  # its runner stopped reporting; nothing is dropped
]
CONDITION_PARTS = (
    "scheduled",
    "machine",
    "content",
    "devcontainer",
    "automations",
    "ports",
    "backup",
    "resources",
)


MAX_ENV_CHARS = 64 * 1024


class Content(Input):
    """Where the workspace comes from; an empty ``repo_url`` gives an empty workspace."""

    repo_url: str | None = None
    ref: str | None = None
    full_history: bool = False
    credential_secret: str | None = None
    """Name of a secret visible to the environment that opens a private repository over
    HTTPS: ``TOKEN`` or ``USER:TOKEN`` (see ``roost secret set``)."""

    @field_validator("repo_url")
    @classmethod
    def _repo_url(cls, url: str | None) -> str | None:
        return repo_urls.check(url) if url else url


class Port(Input):
    port: int = Field(ge=1, le=65535)
    admission: Admission = "owner"
    name: str = ""


class EnvironmentSpec(Input):
    """The desired state. Unknown keys are rejected."""

    spec_version: int = Field(default=0, ge=0, le=2**62)
    """Bumped by the plane on every change. When you write a spec, send the version you read:
    a stale one is refused with 409 ``spec_version_conflict``."""
    desired_phase: DesiredPhase = "running"
    class_name: str = Field(default="default", alias="class")
    resources: Resources = Field(default_factory=Resources)
    egress_allow: list[str] | None = Field(default=None, max_length=1000)
    """Where the environment may connect to (IPv4 CIDRs; ``None``: anywhere). The plane sets it
    from the organization's policy on every spec write, as it sets ``resources`` from the
    class: what a client sends is replaced."""
    image: str | None = None
    """Image reference; ``None`` uses the runner's default (built by ``roost image build-base``)."""
    content: Content = Field(default_factory=Content)
    devcontainer_path: str | None = None
    automations_file: str | None = None
    ports: list[Port] = Field(default_factory=list, max_length=100)
    secrets: list[str] = Field(default_factory=list, max_length=200)
    ssh_public_keys: list[str] = Field(default_factory=list, max_length=100)
    timeout_seconds: int | None = Field(default=None, ge=60, le=366 * 86400)
    """Idle timeout; ``None`` uses the organization's default."""
    keep_alive_sessions: bool = False
    """Count an open SSH session as activity even when no traffic flows (idle stop)."""
    nested_containers: bool = False
    """Run container engines inside (Docker, Podman); the class must allow it
    (``Resources.nested_containers``), or the create is refused."""
    runner: str | None = None
    """Pin to a runner (id or name)."""
    region: str | None = None
    env: dict[str, str] = Field(default_factory=dict, max_length=256)
    """At most 256 variables of 64 KiB together (``_env_size``)."""
    backup_requested: int = Field(default=0, ge=0, le=2**62)
    """Raised by one to ask for a backup now (``roost env backup ID``): the runner backs a
    running environment up at once, and retries a stopped one's failed backup."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("env")
    @classmethod
    def _env_size(cls, env: dict[str, str]) -> dict[str, str]:
        if sum(len(k) + len(v) for k, v in env.items()) > MAX_ENV_CHARS:
            raise ValueError(f"the variables are {MAX_ENV_CHARS} characters at most together")
        return env

    @field_validator("ports")
    @classmethod
    def _unique_ports(cls, ports: list[Port]) -> list[Port]:
        numbers = [p.port for p in ports]
        if len(set(numbers)) != len(numbers):
            raise ValueError("each port may appear once")
        return ports


class EnvironmentCreate(Input):
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    organization: str | None = None
    """Organization id or name; defaults to the caller's only organization."""
    project: str | None = None
    spec: EnvironmentSpec = Field(default_factory=EnvironmentSpec)


class EnvironmentMove(Input):
    runner: str = Field(min_length=1, max_length=63)
    """The runner to move to (name or id)."""


class SpecUpdate(Input):
    spec: EnvironmentSpec


class Endpoints(Output):
    ssh: str | None = None
    ports: dict[str, str] = Field(default_factory=dict)


class EnvironmentStatus(Output):
    status_version: int = 0
    phase: Phase = "pending"
    message: str = ""
    runner_id: str | None = None
    observed_spec_version: int = 0
    conditions: dict[str, Condition] = Field(default_factory=dict)
    last_activity: datetime | None = None
    endpoints: Endpoints = Field(default_factory=Endpoints)


class StatusReport(Input):
    """What a runner posts about an environment it owns."""

    observed_spec_version: int
    phase: Phase
    message: str = ""
    conditions: dict[str, Condition] = Field(default_factory=dict)
    endpoints: Endpoints | None = None
    last_activity: datetime | None = None


class Metadata(Output):
    id: str
    name: str
    organization_id: str
    project_id: str | None = None
    owner_id: str
    owner_name: str | None = None
    """The owner's user name, in lists (where people read names, not ids)."""
    created_at: datetime
    updated_at: datetime
    resource_version: int = 0


class Environment(Output):
    metadata: Metadata
    spec: EnvironmentSpec
    status: EnvironmentStatus

    @property
    def id(self) -> str:
        return self.metadata.id
