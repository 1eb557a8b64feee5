"""``roost doctor --runner``: is this host ready to be a runner? Each finding says what to do.

It reuses the runner's start-up host check (kernel features, cgroup layout, tools) without
fixing anything, and adds what the start does not refuse but users would suffer from: optional
packages, free disk, and a clock that disagrees with the plane's.
"""

import shutil
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from roost.runner import hostcheck

MIN_FREE_GIB = 10
MAX_CLOCK_SKEW_SECONDS = 5.0
TOOLS = (
    ("buildah", "buildah", "devcontainer builds"),
    ("restic", "restic", "backups"),
    ("mmdebstrap", "mmdebstrap", "the default base image"),
    ("runsc", "runsc", "the sandbox runtime (optional)"),
    ("git", "git", "workspaces from git"),
)


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


def check_host(data_dir: Path) -> list[Finding]:
    report = hostcheck.check(fix=False)
    found = [Finding(False, p, "see the message") for p in report.problems]
    if report.ok:
        found.append(Finding(True, f"kernel features and cgroups ({report.cgroup_layout})"))
    for tool, package, purpose in TOOLS:
        if shutil.which(tool) is None:
            found.append(
                Finding(False, f"{tool} is missing ({purpose})", f"apt-get install {package}")
            )
        else:
            found.append(Finding(True, f"{tool} installed"))
    found.append(free_disk(data_dir))
    return found


def free_disk(data_dir: Path) -> Finding:
    path = data_dir
    while not path.exists():
        path = path.parent
    free = shutil.disk_usage(path).free / (1 << 30)
    if free < MIN_FREE_GIB:
        return Finding(
            False,
            f"only {free:.1f} GiB free under {data_dir}",
            f"free space or use a larger disk (at least {MIN_FREE_GIB} GiB)",
        )
    return Finding(True, f"{free:.0f} GiB free under {data_dir}")


def clock_skew(server_date: str, now: datetime) -> Finding:
    """Compare this host's clock with the plane's HTTP ``Date`` header."""
    theirs = parsedate_to_datetime(server_date)
    skew = abs((now - theirs).total_seconds())
    if skew > MAX_CLOCK_SKEW_SECONDS:
        return Finding(
            False,
            f"this host's clock is {skew:.0f} s off the plane's",
            "enable time sync (apt-get install systemd-timesyncd, or chrony)",
        )
    return Finding(True, f"clock within {MAX_CLOCK_SKEW_SECONDS:.0f} s of the plane's")
