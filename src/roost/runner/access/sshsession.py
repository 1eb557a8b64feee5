"""One SSH session channel: a shell, a command or the SFTP subsystem, run inside the environment.

Nothing runs in the image on our behalf: every session is a process started with the runtime
driver's ``exec`` (``crun exec``), with a pseudo-terminal when the client asked for one (the
runner holds its master end: window changes become ``TIOCSWINSZ``, ^C is a byte), plain pipes
otherwise. Its exit status is the session's.

* **shell** and **exec** run the user's login shell from the environment's ``/etc/passwd``
  (``/bin/sh`` if it has none) with ``HOME``, ``USER``, ``LOGNAME`` and ``SHELL`` from the same
  entry: ``shell -l`` for a shell, ``shell -c COMMAND`` for a command -- what OpenSSH's sshd
  does, so ``ssh env 'cd /x && make'`` means what it says. The user and the starting directory
  are the environment's session defaults (``runner/sessions.py``: the devcontainer's remote
  user, in the workspace folder). The command string is the user's own and runs in their own
  environment: nothing of the host is ever passed through a shell.
* **sftp** runs the image's own ``sftp-server`` (OpenSSH's, wherever the distribution keeps it)
  over pipes. It runs as the environment's user in the environment's mount namespace, so every
  path -- symlinks included -- resolves inside the environment, never on the host. ``scp``
  (which speaks SFTP since OpenSSH 9) and VS Code's file transfers use it. On an image without
  ``sftp-server`` the session says so on stderr and exits 127; ``ssh env tar ...`` still works.

Environment variables the client sends (``SendEnv``/``SetEnv``: ``LANG``, ``LC_*``...) are passed
on when their names are well formed; ``TERM`` follows the pty request; ``SSH_AUTH_SOCK`` points
at the forwarded agent (``agentfwd.py``) when the client forwards one.
"""

import asyncio
import contextlib
import logging
import re
import signal as signals
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from roost.core.schemas.ssh import SshGrant
from roost.runner.access.activity import ActivityTracker
from roost.runner.runtime.base import ExecProcess, ExecRequest, RuntimeDriver, RuntimeFailure

log = logging.getLogger(__name__)

PROFILE = (
    'u=$(id -un 2>/dev/null || id -u); e=$(grep "^$u:" /etc/passwd 2>/dev/null | head -n 1); '
    's=$(echo "$e" | cut -d: -f7); h=$(echo "$e" | cut -d: -f6); [ -x "$s" ] || s=/bin/sh; '
    'if [ -n "$h" ]; then export HOME="$h"; fi; export USER="$u" LOGNAME="$u" SHELL="$s"; '
)
"""What sshd sets from the user's passwd entry: HOME, USER, LOGNAME, SHELL."""
LOGIN = PROFILE + 'if [ $# -eq 0 ]; then exec "$s" -l; fi; exec "$s" -c "$1"'
"""``sh -c LOGIN roost [COMMAND]``: the user's shell, as a login shell or running COMMAND."""
SFTP_SERVERS = (
    "/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server", "/usr/lib/sftp-server", "/usr/sbin/sftp-server",
)  # fmt: skip
SFTP = (
    PROFILE + 'cd "$HOME" 2>/dev/null || cd /; '
    f'for p in {" ".join(SFTP_SERVERS)}; do [ -x "$p" ] && exec "$p"; done; '
    'echo "roost: this environment has no sftp-server, so scp and sftp cannot work here;'
    ' install it (Debian: apt-get install openssh-sftp-server)" >&2; exit 127'
)
"""SFTP starts in the user's home, so that ``scp file env:`` lands where OpenSSH puts it."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_ENV = 64
INPUT_HIGH, INPUT_LOW = 64, 8
"""Queued client packets at which reading from the client pauses, and resumes."""
AgentPath = Callable[[], Awaitable[str | None]]
_hanging_up: set["asyncio.Future[None]"] = set()


@dataclass
class SessionContext:
    """What a session needs from its connection."""

    driver: RuntimeDriver
    grant: SshGrant
    activity: ActivityTracker
    agent_path: AgentPath
    """The forwarded agent's socket path inside the environment (``None``: not forwarded)."""
    connection_env: dict[str, str] = field(default_factory=dict)


class EnvSession(asyncssh.SSHServerSession[bytes]):
    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx
        self.env_id = ctx.grant.environment_id
        self.chan: Any = None
        self.kind = ""
        self.command: str | None = None
        self.term: tuple[str, int, int] | None = None
        self.proc: ExecProcess | None = None
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.writable = asyncio.Event()
        self.writable.set()
        self.tasks: list[asyncio.Task[None]] = []
        self.opened = False

    # -- requests -------------------------------------------------------------------------

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int],
                      term_modes: Any) -> bool:  # fmt: skip
        cols, rows = term_size[0] or 80, term_size[1] or 24
        self.term = (term_type or "xterm", rows, cols)
        return True

    def shell_requested(self) -> bool:
        self.kind = "shell"
        return True

    def exec_requested(self, command: str) -> bool:
        self.kind, self.command = "exec", command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem != "sftp":
            return False
        self.kind = "sftp"
        return True

    def session_started(self) -> None:
        self.opened = True
        self.ctx.activity.session_opened(self.env_id, self.ctx.grant.keep_alive_sessions)
        self._spawn(self._run())

    # -- data from the client ---------------------------------------------------------------

    def data_received(self, data: bytes, datatype: int | None) -> None:
        self.ctx.activity.touch(self.env_id)
        self.inbox.put_nowait(data)
        if self.inbox.qsize() >= INPUT_HIGH:
            self.chan.pause_reading()

    def eof_received(self) -> bool:
        self.inbox.put_nowait(None)
        return True  # keep sending output after the client's end of input

    def terminal_size_changed(self, width: int, height: int, pixwidth: int,
                              pixheight: int) -> None:  # fmt: skip
        if self.proc is not None and width and height:
            self._spawn(self.proc.resize(height, width))

    def signal_received(self, signal: str) -> None:
        number = getattr(signals, f"SIG{signal.upper()}", None)
        if self.proc is not None and isinstance(number, int):
            self._spawn(self.proc.signal(number))

    def break_received(self, msec: int) -> bool:
        if self.proc is None:
            return False
        self._spawn(self.proc.signal(signals.SIGINT))
        return True

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.opened:
            self.ctx.activity.session_closed(self.env_id, self.ctx.grant.keep_alive_sessions)
        self.writable.set()
        for task in self.tasks:
            task.cancel()
        if self.proc is not None:  # the client went away: the command must not linger
            hang_up = asyncio.ensure_future(_hang_up(self.proc))
            _hanging_up.add(hang_up)
            hang_up.add_done_callback(_hanging_up.discard)

    # -- the process ----------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Future[None]") -> None:
        with contextlib.suppress(ValueError):
            self.tasks.remove(task)  # type: ignore[arg-type]
        if not task.cancelled() and task.exception() is not None:
            log.warning("ssh session in %s: %r", self.env_id, task.exception())

    async def _request(self) -> ExecRequest:
        env = dict(self.ctx.connection_env)
        for key, value in list(self.chan.get_environment().items())[:MAX_ENV]:
            if _ENV_NAME.match(key) and "\0" not in value:
                env[key] = value
        agent = await self.ctx.agent_path()
        if agent:
            env["SSH_AUTH_SOCK"] = agent
        if self.kind == "sftp":
            return ExecRequest(argv=["/bin/sh", "-c", SFTP], env=env)
        argv = ["/bin/sh", "-c", LOGIN, "roost"] + ([self.command] if self.command else [])
        if self.term is None:
            return ExecRequest(argv=argv, env=env)
        term, rows, cols = self.term
        env["TERM"] = term
        return ExecRequest(argv=argv, env=env, tty=True, rows=rows, cols=cols)

    async def _run(self) -> None:
        try:
            await self._serve()
        except (OSError, RuntimeFailure) as exc:  # never leave the client waiting
            log.warning("ssh session in %s failed: %s", self.env_id, exc)
            self._finish(f"roost: the session failed: {exc}\r\n", 255)

    async def _serve(self) -> None:
        try:
            proc = self.proc = await self.ctx.driver.exec(self.env_id, await self._request())
        except RuntimeFailure as exc:
            self._finish(f"roost: cannot start a session in {self.env_id}: {exc}\r\n", 1)
            return
        self._spawn(self._feed(proc))
        while True:
            stream, data = await proc.read()
            if stream == 0:
                break
            await self.writable.wait()
            if self.chan.is_closing():
                break
            if stream == 2:
                self.chan.write_stderr(data)
            else:
                self.chan.write(data)
        code = await proc.wait()
        self.proc = None
        self._finish("", code)

    def _finish(self, message: str, code: int) -> None:
        if self.chan.is_closing():
            return
        if message:
            self.chan.write_stderr(message.encode())
        self.chan.exit(code if 0 <= code < 256 else 255)

    async def _feed(self, proc: ExecProcess) -> None:
        while True:
            data = await self.inbox.get()
            if self.inbox.qsize() <= INPUT_LOW:
                self.chan.resume_reading()
            if data is None:
                await proc.close_stdin()
                return
            await proc.write_stdin(data)


async def _hang_up(proc: ExecProcess) -> None:
    with contextlib.suppress(Exception):
        await proc.signal(signals.SIGHUP)
        await proc.close_stdin()
