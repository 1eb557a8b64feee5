"""The devcontainer.json properties Roost understands, with their types checked.

The raw document is kept as is (the reference CLI's ``read-configuration`` echoes it, unknown
properties and ``customizations`` included); this model validates the properties Roost acts
on, so a wrong type is an error naming the property and its line, and lists the properties
it does not know (they produce warnings, not errors).
"""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from roost.core.devcontainer.jsonc import ConfigError, line_of


def _js_string(value: Any) -> Any:
    """A JSON scalar as the reference CLI passes it on (JavaScript's ``String(value)``): an
    environment value or build argument written as ``5`` or ``true`` is the text ``"5"`` or
    ``"true"``, not an error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


Text = Annotated[str, BeforeValidator(_js_string)]
"""A string, or a number or boolean taken as its text."""
Command = str | list[str] | dict[str, str | list[str]]
KNOWN = frozenset({
    "$schema", "name", "image", "build", "dockerFile", "context", "features",
    "overrideFeatureInstallOrder", "forwardPorts", "portsAttributes", "otherPortsAttributes",
    "containerEnv", "remoteEnv", "containerUser", "remoteUser", "updateRemoteUserUID",
    "userEnvProbe", "workspaceFolder", "workspaceMount", "mounts", "hostRequirements",
    "overrideCommand", "init", "shutdownAction", "capAdd", "privileged", "securityOpt",
    "initializeCommand", "onCreateCommand", "updateContentCommand", "postCreateCommand",
    "postStartCommand", "postAttachCommand", "waitFor", "customizations", "runArgs", "appPort",
    "dockerComposeFile", "service", "runServices",
})  # fmt: skip
LIFECYCLE = (
    "onCreateCommand", "updateContentCommand", "postCreateCommand", "postStartCommand",
    "postAttachCommand",
)  # fmt: skip


class Build(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    dockerfile: str | None = None
    context: str | None = None
    args: dict[str, Text] = Field(default_factory=dict)
    target: str | None = None
    cache_from: str | list[str] | None = Field(default=None, alias="cacheFrom")
    options: list[str] = Field(default_factory=list)


class HostRequirements(BaseModel):
    model_config = ConfigDict(extra="allow")
    cpus: int | None = None
    memory: str | None = None
    storage: str | None = None
    gpu: bool | str | dict[str, Any] | None = None


class Mount(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: str | None = None
    target: str
    type: str = "bind"


class DevcontainerConfig(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str | None = None
    image: str | None = None
    build: Build | None = None
    docker_file: str | None = Field(default=None, alias="dockerFile")
    context: str | None = None
    features: dict[str, Any] = Field(default_factory=dict)
    override_feature_install_order: list[str] | None = Field(
        default=None, alias="overrideFeatureInstallOrder"
    )
    forward_ports: list[int | str] = Field(default_factory=list, alias="forwardPorts")
    ports_attributes: dict[str, dict[str, Any]] = Field(
        default_factory=dict, alias="portsAttributes"
    )
    container_env: dict[str, Text] = Field(default_factory=dict, alias="containerEnv")
    remote_env: dict[str, Text | None] = Field(default_factory=dict, alias="remoteEnv")
    container_user: str | None = Field(default=None, alias="containerUser")
    remote_user: str | None = Field(default=None, alias="remoteUser")
    update_remote_user_uid: bool | None = Field(default=None, alias="updateRemoteUserUID")
    workspace_folder: str | None = Field(default=None, alias="workspaceFolder")
    workspace_mount: str | None = Field(default=None, alias="workspaceMount")
    mounts: list[str | Mount] = Field(default_factory=list)
    host_requirements: HostRequirements | None = Field(default=None, alias="hostRequirements")
    override_command: bool | None = Field(default=None, alias="overrideCommand")
    init: bool | None = None
    shutdown_action: str | None = Field(default=None, alias="shutdownAction")
    cap_add: list[str] = Field(default_factory=list, alias="capAdd")
    privileged: bool | None = None
    security_opt: list[str] = Field(default_factory=list, alias="securityOpt")
    initialize_command: Command | None = Field(default=None, alias="initializeCommand")
    on_create_command: Command | None = Field(default=None, alias="onCreateCommand")
    update_content_command: Command | None = Field(default=None, alias="updateContentCommand")
    post_create_command: Command | None = Field(default=None, alias="postCreateCommand")
    post_start_command: Command | None = Field(default=None, alias="postStartCommand")
    post_attach_command: Command | None = Field(default=None, alias="postAttachCommand")
    wait_for: str | None = Field(default=None, alias="waitFor")
    customizations: dict[str, Any] = Field(default_factory=dict)
    docker_compose_file: str | list[str] | None = Field(default=None, alias="dockerComposeFile")
    service: str | None = None
    run_services: list[str] | None = Field(default=None, alias="runServices")

    @field_validator("shutdown_action")
    @classmethod
    def _shutdown(cls, value: str | None) -> str | None:
        if value not in (None, "none", "stopContainer", "stopCompose"):
            raise ValueError("must be none, stopContainer or stopCompose")
        return value

    @field_validator("wait_for")
    @classmethod
    def _wait_for(cls, value: str | None) -> str | None:
        allowed = (None, "initializeCommand", *LIFECYCLE)
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(a for a in allowed if a)}")
        return value


def validate(doc: Any, path: str, text: str) -> tuple[DevcontainerConfig, list[str]]:
    """The typed view of ``doc`` and warnings for properties Roost does not know."""
    if not isinstance(doc, dict):
        raise ConfigError(path, 1, "the top level must be a JSON object")
    try:
        config = DevcontainerConfig.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        top = str(err["loc"][0]) if err["loc"] else ""
        raise ConfigError(path, line_of(text, top), f"{where}: {err['msg']}") from None
    warnings = [
        f"{path}:{line_of(text, key)}: unknown property {key!r} (ignored)"
        for key in doc
        if key not in KNOWN
    ]
    if config.docker_compose_file and not config.service:
        raise ConfigError(
            path, line_of(text, "dockerComposeFile"),
            "a Compose configuration names its `service` (the one to develop in)",
        )  # fmt: skip
    return config, warnings
