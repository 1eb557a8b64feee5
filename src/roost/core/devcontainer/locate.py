"""Finding a repository's devcontainer.json, in the specification's order:
``.devcontainer/devcontainer.json``, ``.devcontainer.json``, then
``.devcontainer/<name>/devcontainer.json`` (one level; if several exist, the first by name, and
``--devcontainer PATH`` picks another). The chosen path must stay inside the repository."""

from pathlib import Path

from roost.core.devcontainer.jsonc import ConfigError


def find(root: Path, explicit: str | None = None) -> Path | None:
    """The configuration file under ``root``, or None when the repository has none."""
    if explicit:
        candidate = (root / explicit).resolve()
        if not candidate.is_relative_to(root.resolve()):
            raise ConfigError(explicit, 0, "the devcontainer path must be inside the repository")
        if not candidate.is_file():
            raise ConfigError(explicit, 0, "no such file in the repository")
        return candidate
    for candidate in (root / ".devcontainer" / "devcontainer.json", root / ".devcontainer.json"):
        if candidate.is_file():
            return candidate
    folder = root / ".devcontainer"
    if folder.is_dir():
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            if (sub / "devcontainer.json").is_file():
                return sub / "devcontainer.json"
    return None
