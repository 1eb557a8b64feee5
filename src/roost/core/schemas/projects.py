"""Projects and environment classes."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from roost.core import repo_urls
from roost.core.schemas.base import Input, Output
from roost.core.schemas.organizations import NAME_PATTERN

Runtime = Literal["container", "sandbox"]


class Resources(Input):
    """What an environment may use; copied from its class into the spec (runners need no lookup)."""

    # Upper bounds keep every value a 64-bit integer for the database and the kernel (a
    # memory_mib of 2**63 made every environment of its class fail).
    cpu: float = Field(default=2.0, gt=0, le=256)
    memory_mib: int = Field(default=4096, ge=64, le=2**24)  # 16 TiB
    disk_gib: int = Field(default=20, ge=1, le=2**16)  # 64 TiB
    pids: int = Field(default=4096, ge=32, le=2**22)  # the kernel's pid_max limit
    upload_mbit: int | None = Field(default=None, ge=1, le=10**6)
    download_mbit: int | None = Field(default=None, ge=1, le=10**6)
    runtime: Runtime = "container"
    keep_writable_layer: bool = True
    """Back up the writable layer (installed packages, home directory) with the workspace at
    stop, so that a start -- on any runner -- gives the environment back as it was left (what
    Codespaces and Ona do). On by default; a class may turn it off to make stops faster (it
    costs backup time in proportion to what was installed: docs/architecture.md, Backups)."""
    nested_containers: bool = False
    """The class allows nested containers (Docker, Podman inside): an environment that asks for
    them (``--nested-containers``, or a devcontainer.json asking for privilege or the
    docker-in-docker feature) gets engine capabilities in its own user namespace. Off by default:
    it widens what root inside may ask of the kernel (``docs/security.md``)."""
    restore_lost_after_seconds: int | None = Field(default=None, ge=60, le=366 * 86400)
    """The class's restore-on-loss policy (overrides the organization's ``OrgPolicy`` one):
    silent this long, the runner's environments of this class are restored from their last
    backups elsewhere. ``None``: the organization's policy (off by default)."""

    @model_validator(mode="after")
    def _nested_needs_container(self) -> "Resources":
        if self.nested_containers and self.runtime == "sandbox":
            raise ValueError(
                "nested_containers is not available with the sandbox runtime: gVisor (runsc "
                "20221219, ptrace platform) cannot run a container engine inside; use the "
                "container runtime for nested containers"
            )
        return self


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


RepoUrl = Annotated[str, AfterValidator(repo_urls.check)]


class ProjectCreate(Input):
    name: str = Field(pattern=NAME_PATTERN)
    repo_url: RepoUrl | None = None
    settings: ProjectSettings = Field(default_factory=ProjectSettings)


class ProjectUpdate(Input):
    repo_url: RepoUrl | None = None
    settings: ProjectSettings | None = None


class Project(Output):
    id: str
    organization_id: str
    name: str
    repo_url: str | None = None
    settings: ProjectSettings = Field(default_factory=ProjectSettings)
    created_at: datetime
