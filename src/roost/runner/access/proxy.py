"""The port proxy: HTTP and WebSocket from users to a port inside an environment.

Addressed ``<port>-<env-id>.<domain>`` (the Host header; one origin per port) or by the path
form ``/p/<env-id>/<port>/...`` (no wildcard DNS needed; see ``roost.core.access_urls`` for the
trade-off). For each request:

1. **Login**: ``?roost_token=...`` (a login link from ``roost env ports ID login PORT``) is
   exchanged with the plane for a proxy session, set as an HttpOnly, SameSite=Lax cookie scoped
   to this port (host-only cookie on the host form, ``Path=/p/<env>/<port>/`` on the path
   form), and the browser is redirected to the same URL without the token.
2. **Admission**: the credential -- ``Authorization: Bearer roost_...`` or the cookie -- goes to
   the plane (``proxyauth.py``), which answers from the port's admission. A refusal is a plain
   text message with the status the plane chose (401 log in, 403 not for you, 404 closed port,
   503 stopped environment); nothing is forwarded.
3. **Forwarding**: the platform's own credentials are removed (that header, that cookie), the
   usual ``X-Forwarded-*`` headers added, and the request streamed to ``127.0.0.1:<port>``
   *inside the environment's network namespace* (``dialer.py``: servers bound to localhost
   work). Bodies stream both ways without buffering or decompression; WebSocket upgrades are
   relayed message by message. The Host header is passed on unchanged, so applications build
   links to the address the browser used.

Every request (and every WebSocket message from the browser) counts as activity. Upstream
connections are pooled per environment (``aiohttp`` with a socket factory that makes each
socket inside that environment) with no cookie jar: nothing from one user's response is ever
sent with another's request.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from roost.core import access_urls
from roost.core.errors import RoostError
from roost.core.schemas.proxy import ProxyDecision
from roost.core.schemas.web import SESSION_COOKIE
from roost.runner.access.activity import ActivityTracker
from roost.runner.access.dialer import NetnsDialer
from roost.runner.access.proxyauth import ProxyAuthorizer

log = logging.getLogger(__name__)
COOKIE = "roost_proxy"
LOGIN_PARAM = "roost_token"
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host",
})  # fmt: skip
WS_HANDSHAKE = frozenset({
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    "sec-websocket-protocol", "sec-websocket-accept",
})  # fmt: skip


@dataclass(frozen=True)
class Target:
    env_id: str
    port: int
    prefix: str
    """``""`` for the host form, ``/p/<env>/<port>`` for the path form."""
    path: str
    """The upstream path with its query, still percent-encoded."""


class PortProxy:
    def __init__(
        self,
        authorizer: ProxyAuthorizer,
        dialer: NetnsDialer,
        activity: ActivityTracker,
        domain: str,
        *,
        secure_cookies: bool = False,
    ) -> None:
        self.authorizer = authorizer
        self.dialer = dialer
        self.activity = activity
        self.domain = domain
        self.secure = secure_cookies
        self.sessions: dict[str, aiohttp.ClientSession] = {}

    # -- addressing ---------------------------------------------------------------------------

    def target(self, request: web.Request) -> Target | None:
        found = access_urls.parse_host(request.host, self.domain)
        if found is not None:
            return Target(found[0], found[1], "", request.raw_path)
        parts = request.raw_path.split("/", 4)  # "", "p", env, port, rest
        if len(parts) < 4 or parts[1] != "p" or not parts[3].split("?")[0].isdigit():
            return None
        port_text, _, query = parts[3].partition("?")
        rest = "/" + parts[4] if len(parts) == 5 else ("/?" + query if query else "")
        port = int(port_text)
        if not 1 <= port <= 65535:
            return None
        return Target(parts[2], port, f"/p/{parts[2]}/{port}", rest)

    # -- a request ----------------------------------------------------------------------------

    async def handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        if target.prefix and not target.path:  # /p/env/port -> /p/env/port/
            raise web.HTTPPermanentRedirect(target.prefix + "/")
        if LOGIN_PARAM in request.query:
            return await self._login(request, target)
        credential = _credential(request)
        client = request.remote or ""
        decision = await self.authorizer.decide(target.env_id, target.port, credential, client)
        if not decision.allowed:
            return _refusal(decision)
        self.activity.touch(target.env_id)
        headers = self._upstream_headers(request, target)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, target, headers)
        return await self._http(request, target, headers)

    async def _login(self, request: web.Request, target: Target) -> web.StreamResponse:
        try:
            session = await self.authorizer.login(
                target.env_id, target.port, request.query[LOGIN_PARAM]
            )
        except RoostError as exc:
            return web.Response(status=401, text=exc.message + "\n")
        clean = request.rel_url.without_query_params(LOGIN_PARAM)
        response = web.Response(status=303, headers={"Location": str(clean)})
        max_age = int((session.expires_at - datetime.now(UTC)).total_seconds())
        response.set_cookie(
            COOKIE, session.token, max_age=max(60, max_age), path=target.prefix + "/",
            httponly=True, samesite="Lax", secure=self.secure,
        )  # fmt: skip
        return response

    def _upstream_headers(self, request: web.Request, target: Target) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in request.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower.startswith("x-forwarded-"):
                continue
            if lower == "authorization" and _is_roost_bearer(value):
                continue
            kept = _without_cookies(value) if lower == "cookie" else value
            if kept:
                headers.add(name, kept)
        headers["Host"] = request.host
        forwarded_for = request.headers.get("X-Forwarded-For")
        remote = request.remote or ""
        headers["X-Forwarded-For"] = f"{forwarded_for}, {remote}" if forwarded_for else remote
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        if target.prefix:
            headers["X-Forwarded-Prefix"] = target.prefix
        return headers

    def _session(self, env_id: str) -> aiohttp.ClientSession:
        session = self.sessions.get(env_id)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                socket_factory=self.dialer.factory(env_id), limit=256, ttl_dns_cache=None,
                happy_eyeballs_delay=None,
            )  # fmt: skip
            session = self.sessions[env_id] = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            )  # fmt: skip
        return session

    async def _http(
        self, request: web.Request, target: Target, headers: CIMultiDict[str]
    ) -> web.StreamResponse:
        url = URL(f"http://127.0.0.1:{target.port}{target.path or '/'}", encoded=True)
        body = request.content.iter_chunked(65536) if request.body_exists else None
        try:
            upstream = await self._session(target.env_id).request(
                request.method, url, headers=headers, data=body, allow_redirects=False,
            )  # fmt: skip
        except (aiohttp.ClientError, OSError) as exc:
            return _unreachable(target, exc)
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, _location(name, value, target))
            await response.prepare(request)
            # Either side may go away mid-body: the other is simply cut off, like a direct one.
            with contextlib.suppress(aiohttp.ClientPayloadError, ConnectionResetError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
        return response

    async def _websocket(
        self, request: web.Request, target: Target, headers: CIMultiDict[str]
    ) -> web.StreamResponse:
        for name in [n for n in headers if n.lower() in WS_HANDSHAKE]:
            del headers[name]
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        protocols = [p.strip() for p in offered.split(",") if p.strip()]
        url = URL(f"ws://127.0.0.1:{target.port}{target.path or '/'}", encoded=True)
        try:
            upstream = await self._session(target.env_id).ws_connect(
                url, headers=headers, protocols=protocols, autoping=True, max_msg_size=0,
            )  # fmt: skip
        except (aiohttp.ClientError, OSError) as exc:
            return _unreachable(target, exc)
        ws = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (), max_msg_size=0
        )
        await ws.prepare(request)
        await _relay_websocket(ws, upstream, lambda: self.activity.touch(target.env_id))
        return ws

    async def forget(self, env_id: str) -> None:
        """The environment stopped or went away: drop its pooled connections and answers."""
        self.authorizer.forget(env_id)
        session = self.sessions.pop(env_id, None)
        if session is not None:
            await session.close()

    async def close(self) -> None:
        for env_id in list(self.sessions):
            await self.forget(env_id)


async def _relay_websocket(
    ws: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse, touch: Callable[[], None]
) -> None:
    async def inbound() -> None:
        async for msg in ws:
            touch()
            if msg.type == aiohttp.WSMsgType.TEXT:
                await upstream.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await upstream.send_bytes(msg.data)
        await upstream.close()

    async def outbound() -> None:
        async for msg in upstream:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        await ws.close(code=upstream.close_code or 1000)

    tasks = [asyncio.create_task(inbound()), asyncio.create_task(outbound())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await upstream.close()
        await ws.close()


def _credential(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _is_roost_bearer(request.headers["Authorization"]):
        return value.strip()
    return request.cookies.get(COOKIE) or None


def _is_roost_bearer(header: str) -> bool:
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and value.strip().startswith("roost_")


def _without_cookies(header: str) -> str:
    """Without the platform's cookies: this proxy's, and the dashboard's (which browsers also
    send here when the plane and the runner share a host name)."""
    names = (COOKIE, SESSION_COOKIE)
    kept = [c for c in header.split(";") if c.strip().partition("=")[0].strip() not in names]
    return ";".join(kept).strip()


def _location(name: str, value: str, target: Target) -> str:
    """On the path form, keep the application's absolute-path redirects under the prefix."""
    if target.prefix and name.lower() == "location" and value.startswith("/") \
            and not value.startswith("//"):  # fmt: skip
        return target.prefix + value
    return value


def _refusal(decision: ProxyDecision) -> web.Response:
    return web.Response(
        status=decision.status or 403, text=f"roost: {decision.message}\n",
        headers={"X-Roost-Refusal": decision.code or "refused", "Cache-Control": "no-store"},
    )  # fmt: skip


def _unreachable(target: Target, exc: BaseException) -> web.Response:
    return web.Response(status=502, text=(
        f"roost: nothing answers on port {target.port} in environment {target.env_id} "
        f"({exc}); is the server running and listening?\n"))  # fmt: skip
