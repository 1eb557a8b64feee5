"""Processes started with ``crun exec``: plain pipes, or a pseudo-terminal.

With a TTY, crun hands the pty's master end over a unix socket (``--console-socket``) as an
SCM_RIGHTS message; the runner keeps it and relays it. Ctrl-C and window sizes then work the way a
terminal works: bytes into the master, ``TIOCSWINSZ`` on it.
"""

import array
import asyncio
import contextlib
import fcntl
import os
import signal as signals
import socket
import struct
import tempfile
import termios
from pathlib import Path


class PipeProcess:
    """stdin/stdout/stderr as pipes; output chunks tagged 1 (stdout) or 2 (stderr)."""

    tty = False

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        if proc.stdin is None or proc.stdout is None or proc.stderr is None:
            raise ValueError("PipeProcess needs stdin, stdout and stderr pipes")
        self.stdin = proc.stdin
        self._readers = [
            asyncio.create_task(self._pump(1, proc.stdout)),
            asyncio.create_task(self._pump(2, proc.stderr)),
        ]
        self._open = 2

    async def _pump(self, stream: int, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            await self.queue.put((stream, chunk))
        await self.queue.put((stream, b""))

    async def read(self) -> tuple[int, bytes]:
        while self._open:
            stream, chunk = await self.queue.get()
            if chunk:
                return stream, chunk
            self._open -= 1
        return 0, b""

    async def write_stdin(self, data: bytes) -> None:
        self.stdin.write(data)
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await self.stdin.drain()

    async def close_stdin(self) -> None:
        self.stdin.close()

    async def resize(self, rows: int, cols: int) -> None:
        return None

    async def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signum)

    async def wait(self) -> int:
        code = await self.proc.wait()
        return 128 - code if code < 0 else code


class TtyProcess:
    """A process on a pseudo-terminal whose master end we hold."""

    tty = True

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self.master = master
        os.set_blocking(master, False)
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable)
        self._eof = False

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: the last slave end closed
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
        self.queue.put_nowait(data)

    async def read(self) -> tuple[int, bytes]:
        if self._eof:
            return 0, b""
        data = await self.queue.get()
        if not data:
            self._eof = True
            return 0, b""
        return 1, data

    async def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                await asyncio.sleep(0.005)
                continue
            view = view[written:]

    async def close_stdin(self) -> None:
        await self.write_stdin(b"\x04")  # ^D: end of input at the terminal

    async def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    async def signal(self, signum: int) -> None:
        keys: dict[int, bytes] = {
            signals.SIGINT: b"\x03",
            signals.SIGQUIT: b"\x1c",
            signals.SIGTSTP: b"\x1a",
        }
        if signum in keys:
            await self.write_stdin(keys[signum])
        else:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    async def wait(self) -> int:
        code = await self.proc.wait()
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.master)
        with contextlib.suppress(OSError):
            os.close(self.master)
        return 128 - code if code < 0 else code


class ConsoleSocket:
    """A one-shot unix socket that receives the pty master from crun."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="roost-console-")
        self.path = Path(self.dir) / "sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.sock.listen(1)
        self.sock.setblocking(False)

    async def receive_fd(self, timeout: float = 10) -> int:
        loop = asyncio.get_running_loop()
        conn, _ = await asyncio.wait_for(loop.sock_accept(self.sock), timeout)
        with conn:
            conn.setblocking(True)
            fds = array.array("i")
            _, ancdata, _, _ = await asyncio.to_thread(
                conn.recvmsg, 4096, socket.CMSG_SPACE(fds.itemsize)
            )
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: fds.itemsize])
                    return int(fds[0])
        raise OSError("crun sent no terminal")

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
            os.rmdir(self.dir)
