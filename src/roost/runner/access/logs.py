"""``GET /logs/<env-id>``: an environment's step logs (lifecycle hooks, automations), read
through the runner -- logs hold a repository's output, which stays on the runner like its code.

* ``?step=NAME``: that log (``NAME``, else ``task-NAME``, else ``service-NAME``);
* no step: the names of the logs there are, then the most recently written one;
* ``&follow=1``: keep streaming what is appended; for a task or service, until its run ends;
  otherwise until the client goes away.

Readable cross-origin, for the dashboard (see ``tickets.CORS``).
"""

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from roost.runner.access.tickets import CORS, VerifyPurpose, admit, preflight, refuse, with_cors
from roost.runner.devcontainer.logs import LogStore

Active = Callable[[str, str], bool]
"""``(environment id, log name)``: is something still writing that log?"""
POLL = 0.25


def routes(logs: LogStore, verify: VerifyPurpose, active: Active) -> list[web.RouteDef]:
    async def handler(request: web.Request) -> web.StreamResponse:
        grant = await admit(request, verify, "logs")
        if isinstance(grant, web.Response):
            return grant
        env_id = request.match_info["env_id"]
        names = logs.names(env_id)
        step = request.query.get("step", "")
        if not step:
            return _overview(logs, env_id, names)
        name = next((n for n in (step, f"task-{step}", f"service-{step}") if n in names), None)
        if name is None:
            listed = ", ".join(names) or "none yet"
            return refuse(404, f"no log {step!r} for {env_id} (logs: {listed})", "not_found")
        follow = request.query.get("follow") in ("1", "true")
        return await _stream(request, logs.path(env_id, name), follow,
                             lambda: active(env_id, name))  # fmt: skip

    return [
        web.get("/logs/{env_id}", with_cors(handler)),
        web.options("/logs/{env_id}", preflight("GET")),
    ]


def _overview(logs: LogStore, env_id: str, names: list[str]) -> web.Response:
    if not names:
        return web.Response(text="no logs yet\n")
    latest = max(names, key=lambda n: logs.path(env_id, n).stat().st_mtime)
    text = f"logs: {', '.join(names)}\n--- {latest} (--step NAME for another)\n"
    return web.Response(text=text + _tail(logs.path(env_id, latest)))


def _tail(path: Path, limit: int = 256 << 10) -> str:
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - limit))
        return f.read().decode(errors="replace")


async def _stream(
    request: web.Request, path: Path, follow: bool, active: Callable[[], bool]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8", **CORS})
    await response.prepare(request)
    with path.open("rb") as f:
        while True:
            chunk = f.read(64 << 10)
            if chunk:
                await response.write(chunk)
                continue
            if not follow or (not active() and f.tell() >= os.fstat(f.fileno()).st_size):
                break  # the writer is done (asked first) and everything it wrote was sent
            await asyncio.sleep(POLL)
    await response.write_eof()
    return response
