"""Where the CLI finds its server and token.

Order: ``ROOST_URL`` / ``ROOST_TOKEN``, then the file ``roost login`` writes
(``$ROOST_CONFIG`` or ``~/.config/roost/config.json``, mode 0600).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from roost.core.errors import RoostError


@dataclass(frozen=True)
class CliConfig:
    url: str
    token: str


def config_path() -> Path:
    explicit = os.environ.get("ROOST_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "roost" / "config.json"


def load() -> CliConfig:
    saved: dict[str, str] = {}
    path = config_path()
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RoostError(f"cannot read {path}: {exc}; run `roost login` again") from exc
    url = os.environ.get("ROOST_URL") or saved.get("url")
    token = os.environ.get("ROOST_TOKEN") or saved.get("token")
    if not url or not token:
        raise RoostError(
            "not logged in: run `roost login URL --token TOKEN` "
            "(or set ROOST_URL and ROOST_TOKEN); `roost up` prints both"
        )
    return CliConfig(url=url.rstrip("/"), token=token)


def save(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url.rstrip("/"), "token": token}, f)
    os.replace(tmp, path)
    return path


def saved_url() -> str | None:
    path = config_path()
    try:
        return str(json.loads(path.read_text()).get("url"))
    except (OSError, ValueError):
        return None
