"""SSH agent forwarding: a unix socket *inside* the environment that reaches the client's agent.

``ssh -A`` asks the gateway to forward the agent. The socket has to be a path the environment's
processes can open (``SSH_AUTH_SOCK``), in the environment's own filesystem -- and the runner
must never resolve a path the environment controls from the host side (a symlink planted
inside could point anywhere on the host). So:

1. open the environment's root through its init process (``/proc/<pid>/root``, which walks the
   environment's own mount table) and, one component at a time with ``O_NOFOLLOW``, its ``/run``
   (a tmpfs the environment cannot unmount or replace with a symlink);
2. ``mkdir`` a fresh, randomly named directory there (mode 0700), open it ``O_NOFOLLOW``, and
   bind the listening socket *through that descriptor* (``/proc/self/fd/N/agent.sock``), so no
   path is ever looked up again after the checks;
3. make both as the environment's root user (the owner of its ``/run``), then give them to the
   session's user (the devcontainer's ``remoteUser``): inside, only it (and root) can use the
   socket.

Each connection to it opens an agent channel back to the client (asyncssh's
``open_agent_connection``). Everything is removed when the session ends. This needs no program
in the image, so it works on any image whose init is running.
"""

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_libc = ctypes.CDLL(None, use_errno=True)


class AgentSocket:
    """A forwarded agent's socket inside one environment; :meth:`close` removes it."""

    def __init__(self, run_fd: int, dir_fd: int, name: str, sock: socket.socket) -> None:
        self.run_fd, self.dir_fd, self.name, self.sock = run_fd, dir_fd, name, sock
        self.server: asyncio.AbstractServer | None = None
        self.path = f"/run/{name}/agent.sock"
        """Where processes inside the environment find it."""

    @classmethod
    def make(cls, pid: int, user: tuple[int, int] = (0, 0)) -> "AgentSocket":
        """Blocking (call it in a thread): the directory and the bound, listening socket, owned
        by ``user`` (uid, gid inside the environment)."""
        # The magic link itself must be followed (it is the host's /proc, not the environment's)
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            run = os.open("run", _DIR_FLAGS, dir_fd=root)
        finally:
            os.close(root)
        name = f"roost-agent-{secrets.token_hex(8)}"
        try:
            owner = os.fstat(run)
            with _acting_as(owner.st_uid, owner.st_gid):
                os.mkdir(name, 0o700, dir_fd=run)
                directory = os.open(name, _DIR_FLAGS, dir_fd=run)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.bind(f"/proc/self/fd/{directory}/agent.sock")
            if user != (0, 0):  # ids inside map to the range that starts at root's host id
                uid, gid = owner.st_uid + user[0], owner.st_gid + user[1]
                os.chown(f"/proc/self/fd/{directory}/agent.sock", uid, gid, follow_symlinks=False)
                os.chown(f"/proc/self/fd/{directory}", uid, gid)
            sock.listen(16)
            sock.setblocking(False)
        except BaseException:
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=run)
            os.close(run)
            raise
        return cls(run, directory, name, sock)

    async def serve(self, conn: Any) -> None:
        """Relay each connection to the client's agent over the SSH connection ``conn``."""

        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                agent_reader, agent_writer = await conn.open_agent_connection()
            except Exception as exc:  # the client withdrew its agent: close this one
                log.info("agent forwarding failed: %r", exc)
                writer.close()
                return
            await asyncio.gather(_pump(reader, agent_writer), _pump(agent_reader, writer))

        self.server = await asyncio.start_unix_server(relay, sock=self.sock)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink("agent.sock", dir_fd=self.dir_fd)
        with contextlib.suppress(OSError):
            os.rmdir(self.name, dir_fd=self.run_fd)
        for fd in (self.dir_fd, self.run_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def _acting_as(uid: int, gid: int) -> Iterator[None]:
    """Create files as the environment's root (this thread only).

    The environment's ``/run`` belongs to its user namespace, where the host's root has no id:
    the kernel refuses to create a file it could not give an owner (EOVERFLOW). Switching the
    thread's *filesystem* ids to the environment's root makes the new directory and socket its
    own from the start (and drops the capabilities that bypass file permissions meanwhile).
    """
    if _libc.setfsgid(gid) < 0 or _libc.setfsuid(uid) < 0:
        raise OSError("setfsuid failed")
    try:
        yield
    finally:
        _libc.setfsuid(0)
        _libc.setfsgid(0)


async def _pump(reader: Any, writer: Any) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, EOFError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def open_agent(pid: int, conn: Any, user: tuple[int, int] = (0, 0)) -> AgentSocket | None:
    """The environment-side socket for ``conn``'s forwarded agent, owned by ``user``, or
    ``None`` if it cannot be made (the session then simply runs without ``SSH_AUTH_SOCK``)."""
    # A thread of its own, used once: its file ids change while it works (``_acting_as``)
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roost-agent")
    future = asyncio.get_running_loop().run_in_executor(thread, AgentSocket.make, pid, user)
    thread.shutdown(wait=False)  # the thread ends after this one call
    try:
        agent = await future
    except OSError as exc:
        log.warning("agent forwarding into pid %d failed: %s", pid, exc)
        return None
    await agent.serve(conn)
    return agent
