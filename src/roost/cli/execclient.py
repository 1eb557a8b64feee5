"""The client half of ``roost env exec`` (protocol in ``roost.runner.access.execws``).

With a terminal on stdin it asks for a TTY, puts the local terminal in raw mode (restored on
exit, whatever happens) and forwards window-size changes; otherwise it streams stdin, stdout and
stderr separately. Either way the command's exit status becomes ours.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import stat
import sys
import termios
import tty as ttymod
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp

from roost.core.errors import RoostError


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    try:
        ttymod.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def run_exec(url: str, ticket: str, argv: Sequence[str], use_tty: bool) -> int:
    size = shutil.get_terminal_size()
    first: dict[str, Any] = {"argv": list(argv), "tty": use_tty, "rows": size.lines,
                             "cols": size.columns}  # fmt: skip
    if use_tty:
        first["env"] = {"TERM": os.environ.get("TERM", "xterm-256color")}
    headers = {"Authorization": f"Bearer {ticket}"}
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, headers=headers, max_msg_size=4 << 20)
        except aiohttp.WSServerHandshakeError as exc:
            raise RoostError(f"the runner refused: {exc.message}") from exc
        except aiohttp.ClientError as exc:
            raise RoostError(f"cannot reach the environment's runner at {url}: {exc}") from exc
        async with ws:
            await ws.send_str(json.dumps(first))
            if use_tty:
                with raw_terminal(sys.stdin.fileno()):
                    return await _session(ws, use_tty)
            return await _session(ws, use_tty)


async def _session(ws: aiohttp.ClientWebSocketResponse, use_tty: bool) -> int:
    loop = asyncio.get_running_loop()
    sender = asyncio.create_task(_send_stdin(ws))
    if use_tty:
        loop.add_signal_handler(signal.SIGWINCH, lambda: asyncio.ensure_future(_resize(ws)))
    try:
        return await _receive(ws)
    finally:
        sender.cancel()
        if use_tty:
            loop.remove_signal_handler(signal.SIGWINCH)


async def _resize(ws: aiohttp.ClientWebSocketResponse) -> None:
    size = shutil.get_terminal_size()
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps({"resize": [size.lines, size.columns]}))


async def _send_stdin(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Stream stdin. Pipes, sockets and terminals are read by the event loop; files and
    /dev/null (which epoll refuses) are read in a thread."""
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty()):
        while data := await asyncio.to_thread(os.read, sys.stdin.fileno(), 65536):
            await ws.send_bytes(data)
        await ws.send_str(json.dumps({"eof": True}))
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while chunk := await reader.read(65536):
        await ws.send_bytes(chunk)
    await ws.send_str(json.dumps({"eof": True}))


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> int:
    out, err = sys.stdout.buffer, sys.stderr.buffer
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.BINARY:
            stream = out if msg.data[0] == 1 else err
            stream.write(msg.data[1:])
            stream.flush()
        elif msg.type == aiohttp.WSMsgType.TEXT:
            doc = json.loads(msg.data)
            if "exit" in doc:
                return int(doc["exit"])
            if "error" in doc:
                raise RoostError(f"exec failed: {doc['error']}")
    raise RoostError("the connection to the runner closed before the command finished")
