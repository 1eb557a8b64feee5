"""A runtime driver whose ``exec`` runs on the host: the SSH gateway and the proxy tested with
real clients and no containers (the root tests use real environments).

Only ``exec`` and ``inspect`` are meaningful; the environment is "running" once ``add`` named
it. Commands run as the test's user in ``cwd`` (a temporary directory standing in for $HOME),
with a real pseudo-terminal when asked -- ``setsid -c`` makes it the controlling terminal so
^C reaches the foreground process like in a real login.
"""

import asyncio
import fcntl
import os
import pty
import struct
import termios
from pathlib import Path

from roost.runner.runtime.base import ExecProcess, ExecRequest, Inspection, RuntimeFailure
from roost.runner.runtime.container.execproc import PipeProcess, TtyProcess


class HostDriver:
    name = "host"

    def __init__(self, home: Path) -> None:
        self.home = home
        self.running: set[str] = set()
        self.requests: list[ExecRequest] = []

    def add(self, env_id: str) -> None:
        self.running.add(env_id)

    async def exec(self, env_id: str, request: ExecRequest) -> ExecProcess:
        if env_id not in self.running:
            raise RuntimeFailure(f"environment {env_id} is not running")
        self.requests.append(request)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            **request.env,
        }
        if not request.tty:
            proc = await asyncio.create_subprocess_exec(
                *request.argv,
                env=env,
                cwd=self.home,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
            return PipeProcess(proc)
        master, slave = pty.openpty()
        fcntl.ioctl(
            slave, termios.TIOCSWINSZ, struct.pack("HHHH", request.rows, request.cols, 0, 0)
        )
        proc = await asyncio.create_subprocess_exec(
            "setsid",
            "-c",
            *request.argv,
            env=env,
            cwd=self.home,
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        return TtyProcess(proc, master)

    async def inspect(self, env_id: str) -> Inspection:
        return Inspection("running" if env_id in self.running else "absent")
