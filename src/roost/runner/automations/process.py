"""Running automation commands inside an environment, through the runtime driver.

Every command is a string run by ``/bin/sh -c`` inside the environment (never on the host), as
the environment's remote user, with its variables (and secrets) and in its workspace folder.

Services need to be stopped as a whole -- a ``start`` such as ``npm run dev`` leaves children
behind if only its shell is killed. ``crun exec`` puts the process in a session whose group
leader lives outside the environment's PID namespace, where nothing inside can name it, so the
service wrapper makes its own session with ``setsid`` (util-linux and busybox both have it) and
announces the group's id on its first output line; stopping signals that group from inside as
root. (``setsid`` runs in a subshell, which is never a group leader, so it never forks away
from the shell that waits for it.) Without ``setsid`` in the image, only the shell's own
process is signalled.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from roost.runner.runtime.base import ExecProcess, ExecRequest, RuntimeDriver

MARK = b"roost-pgid "
SERVICE = (
    "if command -v setsid >/dev/null 2>&1; then (exec setsid /bin/sh -c "
    '\'echo "roost-pgid -$$"; exec /bin/sh -c "$1"\' roost-service "$1"); exit $?; fi; '
    'echo "roost-pgid $$"; exec /bin/sh -c "$1"'
)
"""``sh -c SERVICE roost-service COMMAND``: first line ``roost-pgid -N`` (a group) or ``N``."""


@dataclass(frozen=True)
class Target:
    """How commands run in one environment."""

    driver: RuntimeDriver
    env_id: str
    user: str = "0:0"
    env: dict[str, str] | None = None
    cwd: str | None = None

    def request(self, command: str, *, wrapper: str | None = None) -> ExecRequest:
        argv = ["/bin/sh", "-c", command] if wrapper is None else [
            "/bin/sh", "-c", wrapper, "roost-service", command,
        ]  # fmt: skip
        return ExecRequest(argv=argv, env=dict(self.env or {}), cwd=self.cwd, user=self.user)


async def run(target: Target, command: str, log: Path | None, timeout: float | None = None) -> int:
    """Run ``command`` to its end; output appended to ``log`` (or dropped). 124 on timeout."""
    proc = await target.driver.exec(target.env_id, target.request(command))
    await proc.close_stdin()
    try:
        await asyncio.wait_for(pump(proc, log), timeout)
    except TimeoutError:
        await proc.signal(9)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        return 124
    return await proc.wait()


async def pump(
    proc: ExecProcess, log: Path | None, first_line: "asyncio.Future[bytes] | None" = None
) -> None:
    """Copy the process's output to ``log`` until it ends; the first line goes to
    ``first_line`` instead when one is asked for (the service wrapper's group id)."""
    pending = b""
    with log.open("ab") if log else contextlib.nullcontext() as out:
        while True:
            stream, data = await proc.read()
            if stream == 0:
                break
            if first_line is not None and not first_line.done():
                pending += data
                if b"\n" not in pending:
                    continue
                line, _, data = pending.partition(b"\n")
                first_line.set_result(line)
            if out is not None and data:
                out.write(data)
                out.flush()
    if first_line is not None and not first_line.done():
        first_line.set_result(pending)


def group_of(line: bytes) -> str:
    """``kill`` target from the wrapper's announcement: ``-N`` (a process group) or ``N``."""
    if line.startswith(MARK):
        value = line[len(MARK) :].decode(errors="replace").strip()
        if value.lstrip("-").isdigit():
            return value
    return ""


async def signal_group(target: Target, group: str, signal: str) -> None:
    """``kill -SIG GROUP`` inside the environment, as root (a service may have changed user)."""
    if not group:
        return
    root = Target(target.driver, target.env_id, "0:0", {}, "/")
    await run(root, f"kill -{signal} {group} 2>/dev/null || true", None, timeout=10)
