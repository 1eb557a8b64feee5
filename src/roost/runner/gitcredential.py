"""A repository credential for git, without a command line or a config file.

git asks ``GIT_ASKPASS`` for a user name and a password; the helper written here answers from
two variables of the git process (``ROOST_GIT_USERNAME`` / ``ROOST_GIT_PASSWORD``). So the
credential is in no argv (which every host process can read), not in the clone's
``.git/config`` (the remote URL stays as given) and not in any credential store: git runs with
``credential.helper`` emptied. The helper script itself holds nothing secret.

A credential secret's value is ``TOKEN`` (user name ``git``, which GitHub, GitLab and Gitea
accept with a token) or ``USER:TOKEN``.
"""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

HELPER = """#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\\n' "$ROOST_GIT_USERNAME" ;;
  *) printf '%s\\n' "$ROOST_GIT_PASSWORD" ;;
esac
"""
NO_HELPERS = ["-c", "credential.helper="]
"""git options: no credential helper may store (or offer) anything."""


def split(value: str) -> tuple[str, str]:
    user, sep, token = value.strip().partition(":")
    return (user, token) if sep and user and "/" not in user else ("git", value.strip())


@contextlib.contextmanager
def askpass(value: str | None) -> Iterator[dict[str, str]]:
    """Variables for a git process that answer its prompts with ``value`` (none: no prompt)."""
    if value is None:
        yield {"GIT_TERMINAL_PROMPT": "0"}
        return
    directory = Path(tempfile.mkdtemp(prefix="roost-askpass-"))
    try:
        directory.chmod(0o755)  # the sandboxed git (another uid) runs the helper
        helper = directory / "askpass"
        helper.write_text(HELPER)
        helper.chmod(0o755)
        user, token = split(value)
        yield {
            "GIT_ASKPASS": str(helper), "GIT_TERMINAL_PROMPT": "0",
            "ROOST_GIT_USERNAME": user, "ROOST_GIT_PASSWORD": token,
        }  # fmt: skip
    finally:
        shutil.rmtree(directory, ignore_errors=True)
