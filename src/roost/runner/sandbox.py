"""Running untrusted programs on the runner host without root: git clones of users'
repositories and devcontainer ``initializeCommand``.

Such a program runs as ``WORKSPACE_ID_BASE`` -- the host uid that owns workspace files (root
inside environments, nobody on the host) -- with no supplementary groups, no capabilities, no
way to gain privileges (``no_new_privs``), a private empty ``HOME``, a clean environment, a
time limit, and its own session (killed as a group on timeout). It can write the environment's
workspace and read what any unprivileged user can; it cannot touch the runner's state or other
environments' files (their directories are 0700 root).
"""

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from roost.runner.idalloc import WORKSPACE_ID_BASE

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Result:
    code: int
    output: str


async def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    uid: int = WORKSPACE_ID_BASE,
    log: Path | None = None,
) -> Result:
    """Run ``argv`` unprivileged; the combined output is returned (and appended to ``log``).

    There is no root mode: even a local repository the runner's admin allows is cloned as
    ``uid``, so a user can never have the runner read a root-only file for them.
    """
    if uid == 0:
        raise ValueError("the sandbox never runs as root")
    home = _private_home(uid)
    drop = [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
        "--inh-caps=-all", "--bounding-set=-all", "--",
    ]  # fmt: skip
    # Each run gets its own PID namespace and /proc: every sandbox shares one uid, so without
    # this one user's initializeCommand could read another's git process (its environment holds
    # a repository credential: runner/gitcredential.py) through /proc or ptrace.
    private_pids = ["unshare", "--pid", "--mount-proc", "--kill-child", "--"]
    wrapped = [*private_pids, *drop, *argv]
    clean = {"PATH": SAFE_PATH, "HOME": str(home), "LANG": "C.UTF-8", **(env or {})}
    try:
        proc = await asyncio.create_subprocess_exec(
            *wrapped, cwd=cwd, env=clean, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return Result(124, f"timed out after {timeout:g}s")
        text = out.decode(errors="replace")
        if log is not None:
            with log.open("a") as f:
                f.write(text)
        return Result(proc.returncode or 0, text)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _private_home(uid: int) -> Path:
    home = Path(tempfile.mkdtemp(prefix="roost-sandbox-"))
    os.chown(home, uid, uid)
    home.chmod(0o700)
    return home
