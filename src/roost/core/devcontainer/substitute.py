"""Variable substitution in devcontainer.json values.

Two moments, as in the specification: when the configuration is read, the *local* variables --
``${localEnv:VAR[:default]}`` (alias ``${env:...}``), ``${localWorkspaceFolder}``,
``${localWorkspaceFolderBasename}``, ``${containerWorkspaceFolder}``,
``${containerWorkspaceFolderBasename}``, ``${devcontainerId}`` -- are replaced; and once the
container runs, ``${containerEnv:VAR[:default]}`` is replaced with the container's environment
(used in ``remoteEnv`` and the lifecycle commands). Unknown variables are left as written.

For Roost, "local" means the runner host's view: the workspace folder on the runner (the
repository checkout) and the runner's environment for ``localEnv`` -- the CLI's
``read-configuration`` uses the caller's, like the reference CLI.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

_VAR = re.compile(r"\$\{([A-Za-z]+)(?::([^}:]*))?(?::([^}]*))?\}")
_BASE32 = "0123456789abcdefghijklmnopqrstuv"


def devcontainer_id(labels: Mapping[str, str]) -> str:
    """The specification's label-based id: SHA-256 of the sorted, compact labels JSON, in
    base 32 (digits then a-v), left-padded with 0 to 52 characters."""
    text = json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)
    value = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    digits = ""
    while value:
        value, rest = divmod(value, 32)
        digits = _BASE32[rest] + digits
    return digits.rjust(52, "0")


@dataclass(frozen=True)
class Variables:
    local_workspace_folder: str
    container_workspace_folder: str
    local_env: Mapping[str, str] = field(default_factory=dict)
    devcontainer_id: str | None = None
    """Known once there is a container to label (the reference CLI leaves it in
    ``read-configuration`` too); ``None`` leaves ``${devcontainerId}`` alone."""
    container_env: Mapping[str, str] | None = None
    """Only known once the container runs; ``None`` leaves ``${containerEnv:...}`` alone."""
    local_basename: str | None = None
    """``${localWorkspaceFolderBasename}`` when the local folder's own name is not the
    repository's (a runner checks out into a folder named for the environment; a user's
    checkout is named for the repository, and configurations are written for that)."""

    def lookup(self, kind: str, name: str | None, default: str | None) -> str | None:
        fixed = {
            "localWorkspaceFolder": self.local_workspace_folder,
            "localWorkspaceFolderBasename": (
                self.local_basename or PurePosixPath(self.local_workspace_folder).name
            ),
            "containerWorkspaceFolder": self.container_workspace_folder,
            "containerWorkspaceFolderBasename": PurePosixPath(self.container_workspace_folder).name,
        }
        if kind == "devcontainerId" and name is None:
            return self.devcontainer_id
        if kind in fixed and name is None:
            return fixed[kind]
        if kind in ("localEnv", "env") and name is not None:
            return self.local_env.get(name, default or "")
        if kind == "containerEnv" and name is not None and self.container_env is not None:
            return self.container_env.get(name, default or "")
        return None


def substitute(value: Any, variables: Variables) -> Any:
    """``value`` (any JSON) with variables replaced in every string value. Object keys stay as
    written, as with the reference CLI (a ``files.watcherExclude`` key such as
    ``"${localWorkspaceFolder}/out/**"`` is a pattern for the editor, not a path to resolve)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: _one(m, variables), value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def _one(match: re.Match[str], variables: Variables) -> str:
    found = variables.lookup(match.group(1), match.group(2), match.group(3))
    return match.group(0) if found is None else found
