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
    workspace_target: str = "/workspace"
    """Where the workspace appears inside (set once: a devcontainer may choose it)."""
    applied_resources: dict[str, object] = field(default_factory=dict)


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
