"""Local repositories for tests whose runner clones host paths.

Runners clone local paths as an unprivileged uid (``runner/content.py``), which, like any
local user, cannot enter pytest's root-only temporary directories: :func:`reachable` opens the
way (traversal only, no listing), as a user would for a repository they clone with ``roost up``.
"""

from pathlib import Path


def reachable(path: Path) -> Path:
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & 0o001:
            directory.chmod((mode & 0o7777) | 0o001)
    return path
