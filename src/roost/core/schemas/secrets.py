"""Secrets: named values at organization, project or user scope, injected into environments.

A secret is written once with its value and read back only as metadata (name, scope, where it
goes, timestamps): the API never returns a value. Only the runner an environment is assigned to
receives values (:class:`EnvironmentSecrets`), for that environment alone.

Where a secret goes inside an environment is part of the secret: an environment variable
(``env_var``, by default the secret's name when that is a valid variable name) or a file
(``file_path``, an absolute path; mode 0600, owned by the remote user). When names clash the
most specific scope wins: user over project over organization.
"""

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from roost.core.schemas.base import Input, Output

Scope = Literal["organization", "project", "user"]
SCOPE_RANK = {"organization": 0, "project": 1, "user": 2}
"""Higher wins a name (or target) clash inside one environment."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VALUE_BYTES = 64 * 1024


class SecretCreate(Input):
    """``roost secret set``: creates the secret, or replaces the value and target of the one
    with this name in this scope."""

    name: str = Field(pattern=NAME_PATTERN)
    scope: Scope = "user"
    organization: str | None = None
    """Organization id or name (organization scope; and to find a project by name)."""
    project: str | None = None
    """Project id or name (project scope)."""
    value: str = Field(max_length=MAX_VALUE_BYTES)
    env_var: str | None = None
    file_path: str | None = None

    @model_validator(mode="after")
    def _target(self) -> "SecretCreate":
        if self.env_var and self.file_path:
            raise ValueError("a secret goes into an environment variable or a file, not both")
        if self.file_path is not None:
            if not self.file_path.startswith("/") or "\0" in self.file_path:
                raise ValueError("file_path must be an absolute path, like /run/secrets/token")
            if ".." in self.file_path.split("/"):
                raise ValueError("file_path may not contain '..'")
        elif self.env_var is None:
            if not ENV_VAR.match(self.name):
                raise ValueError(
                    f"{self.name!r} is not a variable name: choose one with env_var "
                    "(--env VAR) or a file with file_path (--file /path)"
                )
            self.env_var = self.name
        elif not ENV_VAR.match(self.env_var):
            raise ValueError(f"env_var {self.env_var!r} is not a valid variable name")
        if self.scope == "project" and not self.project:
            raise ValueError("project scope needs a project")
        return self


class Secret(Output):
    """A secret as users see it: everything but the value."""

    id: str
    name: str
    scope: Scope
    organization_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    env_var: str | None = None
    file_path: str | None = None
    created_at: datetime
    updated_at: datetime
    updated_by: str = ""


class EnvironmentSecret(Output):
    """One secret with its value, for the runner of the environment it belongs to."""

    name: str
    scope: Scope
    value: str
    env_var: str | None = None
    file_path: str | None = None


class EnvironmentSecrets(Output):
    items: list[EnvironmentSecret] = Field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {s.env_var: s.value for s in self.items if s.env_var}

    def by_name(self, name: str) -> EnvironmentSecret | None:
        return next((s for s in self.items if s.name == name), None)
