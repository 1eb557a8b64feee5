"""The runner's access server (aiohttp): exec streams and the port proxy.

* ``GET /exec/<env-id>`` upgrades to an exec stream. Every request carries a one-use ticket from
  the plane (``Authorization: Bearer``, or from browsers a subprotocol: ``tickets.py``); the
  runner has the plane check and spend it before anything runs. Refusals are plain HTTP errors
  with a message, given before the upgrade, so clients never hang.
* Requests for ``<port>-<env-id>.<domain>`` (any path) and for ``/p/<env-id>/<port>/...`` go to
  the port proxy (``proxy.py``), ahead of the routes above.
"""

import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from roost.core.schemas.access import TicketGrant
from roost.runner import metrics
from roost.runner.access import execws, tickets
from roost.runner.access.proxy import PortProxy
from roost.runner.runtime.base import RuntimeDriver, RuntimeFailure

log = logging.getLogger(__name__)
Verify = Callable[[str, str], Awaitable[TicketGrant]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AccessServer:
    def __init__(
        self,
        driver: RuntimeDriver,
        verify: Verify,
        proxy: PortProxy | None = None,
        routes: Sequence[web.RouteDef] = (),
    ) -> None:
        self.driver = driver
        self.verify = verify
        self.proxy = proxy
        self.app = web.Application(middlewares=[self.proxy_first] if proxy else [])
        self.app.router.add_get("/exec/{env_id}", self.exec_handler)
        self.app.router.add_get("/healthz", self.health)
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_routes(routes)  # logs and automations (runner/userparts.py)
        self.runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.proxy is not None:
            await self.proxy.close()

    @web.middleware
    async def proxy_first(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Proxied hosts and paths go to the proxy whatever the path; the rest is routed."""
        target = self.proxy.target(request) if self.proxy else None
        if self.proxy is None or target is None:
            return await handler(request)
        return await self.proxy.handle(request, target)

    async def metrics(self, _: web.Request) -> web.Response:
        """Prometheus metrics (:mod:`roost.runner.metrics`)."""
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def health(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def exec_handler(self, request: web.Request) -> web.StreamResponse:
        env_id = request.match_info["env_id"]
        grant = await tickets.admit(request, lambda t, e, _: self.verify(t, e), "exec")
        if isinstance(grant, web.Response):
            return grant
        ws = web.WebSocketResponse(
            heartbeat=30, max_msg_size=4 << 20, protocols=(tickets.BROWSER_PROTOCOL,)
        )
        await ws.prepare(request)
        try:
            first = await ws.receive_json(timeout=30)
            exec_request = execws.parse_request(first)
            proc = await self.driver.exec(env_id, exec_request)
        except (ValueError, TypeError, json.JSONDecodeError, RuntimeFailure) as exc:
            await ws.send_str(json.dumps({"error": str(exc)}))
            await ws.close()
            return ws
        log.info("exec in %s by %s: %s", env_id, grant.user_name, exec_request.argv[0])
        await execws.serve(ws, proc)
        await ws.close()
        return ws
