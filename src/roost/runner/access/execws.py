"""The exec stream protocol over one WebSocket.

Client → runner:
  1. a text frame: ``{"argv": [...], "tty": bool, "rows": int, "cols": int, "env": {}, "cwd": str}``
     and optionally ``"user": "uid[:gid]"`` (numeric; default: the environment's session user).
     Choosing one gives nothing away: whoever may exec is root inside anyway.
  2. binary frames: stdin bytes
  3. text frames: ``{"resize": [rows, cols]}``, ``{"eof": true}``, ``{"signal": N}``
Runner → client:
  * binary frames: one byte of stream (1 stdout or the terminal, 2 stderr) then the data
  * a last text frame ``{"exit": N}`` (or ``{"error": "..."}``), then close

Why a WebSocket to the runner rather than through the plane: the runner connects out to the
plane, so the plane cannot dial it, and relaying through the plane would put every byte of every
session -- source code, secrets typed at a prompt -- through the central service. Users already
reach runners directly for SSH and the port proxy; exec uses the same path, admitted by a one-use
ticket the plane issued after authenticating the user.
"""

import asyncio
import contextlib
import json
import logging
import re
import signal
from typing import Any

from aiohttp import WSMsgType, web

from roost.runner.runtime.base import ExecProcess, ExecRequest

log = logging.getLogger(__name__)
STDOUT, STDERR = 1, 2
USER = re.compile(r"[0-9]{1,10}(:[0-9]{1,10})?")


def parse_request(doc: dict[str, Any]) -> ExecRequest:
    argv = doc.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")
    env = doc.get("env") or {}
    if not isinstance(env, dict):
        raise TypeError("env must be an object")
    user = doc.get("user")
    if user is not None and not (isinstance(user, str) and USER.fullmatch(user)):
        raise ValueError('user must be a numeric "uid" or "uid:gid"')
    return ExecRequest(
        argv=argv,
        tty=bool(doc.get("tty")),
        env={str(k): str(v) for k, v in env.items()},
        cwd=doc.get("cwd") or None,
        user=user,
        rows=int(doc.get("rows") or 24),
        cols=int(doc.get("cols") or 80),
    )


async def pump_output(ws: web.WebSocketResponse, proc: ExecProcess) -> None:
    while True:
        stream, data = await proc.read()
        if stream == 0:
            return
        await ws.send_bytes(bytes([stream]) + data)


async def pump_input(ws: web.WebSocketResponse, proc: ExecProcess) -> None:
    async for msg in ws:
        if msg.type == WSMsgType.BINARY:
            await proc.write_stdin(msg.data)
        elif msg.type == WSMsgType.TEXT:
            await _control(proc, json.loads(msg.data))
    # the client went away: the command must not linger
    await proc.signal(signal.SIGHUP)


async def _control(proc: ExecProcess, doc: dict[str, Any]) -> None:
    if "resize" in doc:
        rows, cols = doc["resize"]
        await proc.resize(int(rows), int(cols))
    if doc.get("eof"):
        await proc.close_stdin()
    if "signal" in doc:
        await proc.signal(int(doc["signal"]))


async def serve(ws: web.WebSocketResponse, proc: ExecProcess) -> int:
    """Relay until the command's output ends; returns its exit status."""
    inbound = asyncio.create_task(pump_input(ws, proc))
    try:
        await pump_output(ws, proc)
        code = await proc.wait()
    finally:
        inbound.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await inbound
    await ws.send_str(json.dumps({"exit": code}))
    return code
