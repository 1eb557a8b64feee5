"""Projects and environment classes."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from roost.core.schemas.base import Input, Output
from roost.core.schemas.organizations import NAME_PATTERN

Runtime = Literal["container", "sandbox"]


class Resources(Input):
    """What an environment may use; copied from its class into the spec (runners need no lookup)."""

    cpu: float = Field(default=2.0, gt=0, le=256)
    memory_mib: int = Field(default=4096, ge=64)
    disk_gib: int = Field(default=20, ge=1)
    pids: int = Field(default=4096, ge=32)
    upload_mbit: int | None = Field(default=None, ge=1)
    download_mbit: int | None = Field(default=None, ge=1)
    runtime: Runtime = "container"
    keep_writable_layer: bool = True
    """Back up the writable layer (installed packages, home directory) with the workspace at
    stop, so that a start -- on any runner -- gives the environment back as it was left (what
    Codespaces and Ona do). On by default; a class may turn it off to make stops faster (it
    costs backup time in proportion to what was installed: docs/architecture.md, Backups)."""


class EnvironmentClassCreate(Input):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    resources: Resources = Field(default_factory=Resources)


class EnvironmentClassUpdate(Input):
    """A class's new values (each optional). Environments created before keep the resources
    they copied; new ones, and a spec write that names the class, get these."""

    description: str | None = None
    resources: Resources | None = None


class EnvironmentClass(Output):
    id: str
    organization_id: str | None = None
    """``None`` for a class every organization may use."""
    name: str
    description: str = ""
    resources: Resources
    created_at: datetime


class ProjectSettings(Input):
    default_class: str | None = None
    devcontainer_path: str | None = None
    default_image: str | None = None
    keep_writable_layer: bool = False


class ProjectCreate(Input):
    name: str = Field(pattern=NAME_PATTERN)
    repo_url: str | None = None
    settings: ProjectSettings = Field(default_factory=ProjectSettings)


class ProjectUpdate(Input):
    repo_url: str | None = None
    settings: ProjectSettings | None = None


class Project(Output):
    id: str
    organization_id: str
    name: str
    repo_url: str | None = None
    settings: ProjectSettings = Field(default_factory=ProjectSettings)
    created_at: datetime
