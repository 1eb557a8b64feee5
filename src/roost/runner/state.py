"""The runner's local truth about each environment, one JSON file per environment.

It records what must not change over an environment's life on this runner even if the plane's
spec does -- chiefly the image *layers* it was created from, since its overlay upper directory
only makes sense on top of those -- and nothing that can be read back from the kernel (whether
it runs, its mounts, its address): those are always observed, never remembered.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class LocalEnv:
    env_id: str
    runtime: str = "container"
    image_ref: str = ""
    image_digest: str = ""
    layers: list[str] = field(default_factory=list)
    image_env: list[str] = field(default_factory=list)
    working_dir: str = "/"
    workspace_target: str = "/workspaces/workspace"
    """Where the workspace appears inside (set once: the repository or devcontainer names it)."""
    applied_resources: dict[str, object] = field(default_factory=dict)
    resource_notes: list[str] = field(default_factory=list)
    """Limits of the last live change that did not apply, and why (``runner/resources``)."""
    wanted_image: str = ""
    """The image a step chose (a devcontainer's image or build); empty: the spec's."""
    container_env: dict[str, str] = field(default_factory=dict)
    """Variables every process in the environment gets (devcontainer ``containerEnv``)."""
    remote_env: dict[str, str] = field(default_factory=dict)
    """Variables for user sessions, hooks and tools (``remoteEnv``, after substitution)."""
    remote_user: str = ""
    """The user sessions and hooks run as (``remoteUser``); empty: root."""
    remote_uid: int = 0
    remote_gid: int = 0
    user_env: dict[str, str] = field(default_factory=dict)
    """What a login gives the remote user: HOME, USER, LOGNAME, SHELL from its passwd entry and
    what ``userEnvProbe`` found (``devcontainer/users.py``); probed once per start."""
    probed_pid: int = 0
    """PID 1 of the run ``user_env`` was probed in."""
    workdir: str = ""
    """Where sessions start (the devcontainer's ``workspaceFolder``); empty: the workspace."""
    devcontainer: dict[str, object] = field(default_factory=dict)
    """The resolved devcontainer configuration this environment was created from."""
    hooks_done: list[str] = field(default_factory=list)
    """Lifecycle hooks that finished for this environment (create-time hooks run once)."""
    started_pid: int = 0
    """PID 1 of the run the per-start hooks (postStart) last ran for."""
    cap_add: list[str] = field(default_factory=list)
    """Capabilities the devcontainer added (``capAdd``, within its policy)."""
    tmpfs: list[str] = field(default_factory=list)
    """Targets of the devcontainer's tmpfs ``mounts``."""
    nested_containers: bool = False
    """The devcontainer asked for nested containers and the class allowed it."""
    hook_failure: str = ""
    """The spec version a lifecycle hook failed at: hooks wait for a new one (a retry)."""

    @property
    def remote(self) -> str:
        """``uid:gid`` of the devcontainer's remote user (root without one): sessions, hooks,
        dotfiles and automations run as it."""
        return f"{self.remote_uid}:{self.remote_gid}"

    @property
    def remote_variables(self) -> dict[str, str]:
        """What the remote user's processes get: ``containerEnv``, then the user's login
        variables, then ``remoteEnv``."""
        return {**self.container_env, **self.user_env, **self.remote_env}


class StateStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, env_id: str) -> Path:
        return self.dir / f"{env_id}.json"

    def load(self, env_id: str) -> LocalEnv | None:
        try:
            doc = json.loads(self.path(env_id).read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # torn write from a crash: treat as new; the image is pinned again
        known = {f for f in LocalEnv.__dataclass_fields__}
        return LocalEnv(**{k: v for k, v in doc.items() if k in known})

    def save(self, env: LocalEnv) -> None:
        tmp = self.path(env.env_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(env)))
        os.replace(tmp, self.path(env.env_id))

    def remove(self, env_id: str) -> None:
        self.path(env_id).unlink(missing_ok=True)

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.json"))
