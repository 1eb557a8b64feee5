"""Local repositories for tests whose runner clones host paths.

Runners clone local paths as an unprivileged uid (``runner/content.py``), which, like any
local user, cannot enter pytest's root-only temporary directories (and pytest makes
``/tmp/pytest-of-root`` 0700 again at every session, so opening it would race other runs).
:func:`reachable` copies a repository to a directory any user may read, removed at exit.
"""

import atexit
import shutil
import tempfile
from pathlib import Path

_made: list[Path] = []


def reachable(repo: Path) -> Path:
    base = Path(tempfile.mkdtemp(prefix="roost-test-repo-"))
    base.chmod(0o755)
    _made.append(base)
    target = base / repo.name
    shutil.copytree(repo, target, symlinks=True)
    return target


@atexit.register
def _remove() -> None:
    for path in _made:
        shutil.rmtree(path, ignore_errors=True)


def open_dir(prefix: str) -> Path:
    """A directory others may traverse (not list), removed at exit: for a runner's data, whose
    sandboxed clones (another uid) must reach ``workspaces/<id>``."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o711)
    _made.append(base)
    return base
