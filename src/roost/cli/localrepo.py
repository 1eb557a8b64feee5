"""``roost env create PATH``: the environment clones the repository's last commit, so what is
not committed is not in it. Say so before creating, instead of leaving the user to find out."""

import subprocess
from pathlib import Path

import click

MAX_LISTED = 5


def uncommitted(path: Path) -> list[str]:
    """``git status --porcelain`` lines of the repository at ``path`` (none if it is not one)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=normal"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.splitlines() if done.returncode == 0 else []


def warn_uncommitted(path: Path) -> None:
    changes = uncommitted(path)
    if not changes:
        return
    shown = ", ".join(line[3:] for line in changes[:MAX_LISTED])
    more = f" and {len(changes) - MAX_LISTED} more" if len(changes) > MAX_LISTED else ""
    click.echo(
        f"warning: {len(changes)} uncommitted change(s) in {path} ({shown}{more}) are not "
        "included: the environment gets the last commit; commit them first to include them",
        err=True,
    )
