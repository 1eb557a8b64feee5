"""The port proxy with a local upstream server and a stand-in plane (no root): addressing,
what is forwarded and what is stripped, streaming, WebSocket, login, refusals."""

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from roost.core.errors import Unauthenticated
from roost.core.schemas.proxy import (
    ProxyAuthorize,
    ProxyDecision,
    ProxySession,
    ProxySessionCreate,
)
from roost.runner.access.activity import ActivityTracker
from roost.runner.access.proxy import PortProxy, Target
from roost.runner.access.proxyauth import ProxyAuthorizer
from roost.runner.access.server import AccessServer
from roost.runner.runtime.fake import FakeDriver
from tests.support.live import free_port

ENV = "0123456789abcdefghjk"
SESSION = "roost_0123456789abcdefghjk_session"


class PlainDialer:
    """Sockets in the test's own netns (the real dialer makes them in the environment's)."""

    def factory(self, env_id: str) -> Any:
        def make(info: Any) -> socket.socket:
            sock = socket.socket(info[0], info[1], info[2])
            sock.setblocking(False)
            return sock

        return make


@dataclass
class FakePlane:
    allow: bool = True
    asked: list[ProxyAuthorize] = field(default_factory=list)

    async def ask(self, body: ProxyAuthorize) -> ProxyDecision:
        self.asked.append(body)
        if self.allow or body.credential == SESSION:
            return ProxyDecision(allowed=True, admission="owner", cache_seconds=5)
        return ProxyDecision(
            allowed=False, status=401, code="unauthenticated", message="you are not logged in"
        )

    async def exchange(self, body: ProxySessionCreate) -> ProxySession:
        if body.login_token != "roost_good":
            raise Unauthenticated("this login link is not valid")
        return ProxySession(
            token=SESSION, user_name="alice", expires_at=datetime.now(UTC) + timedelta(hours=1)
        )


async def upstream_app() -> web.Application:
    async def headers(request: web.Request) -> web.Response:
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    async def echo(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        async for chunk in request.content.iter_any():
            await response.write(chunk)
        return response

    async def zipped(_: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b"z" * 1000), headers={"Content-Encoding": "gzip"})

    async def moved(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/elsewhere"})

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse(protocols=["chat"])
        await sock.prepare(request)
        async for msg in sock:
            await sock.send_str(
                msg.data.upper()
            ) if msg.type == aiohttp.WSMsgType.TEXT else await sock.send_bytes(msg.data)
        return sock

    app = web.Application()
    app.router.add_get("/headers", headers)
    app.router.add_post("/echo", echo)
    app.router.add_get("/zipped", zipped)
    app.router.add_get("/moved", moved)
    app.router.add_get("/ws", ws)
    return app


@dataclass
class World:
    base: str
    access_port: int
    upstream_port: int
    plane: FakePlane
    activity: ActivityTracker
    http: aiohttp.ClientSession

    def host(self, port: int | None = None) -> dict[str, str]:
        return {"Host": f"{port or self.upstream_port}-{ENV}.localhost:{self.access_port}"}


@pytest.fixture
async def world() -> AsyncIterator[World]:
    upstream = web.AppRunner(await upstream_app())
    await upstream.setup()
    upstream_port = free_port()
    await web.TCPSite(upstream, "127.0.0.1", upstream_port).start()
    plane, activity = FakePlane(), ActivityTracker()
    proxy = PortProxy(
        ProxyAuthorizer(plane.ask, plane.exchange),
        PlainDialer(),
        activity,  # type: ignore[arg-type]
        "localhost",
    )
    server = AccessServer(FakeDriver(), verify=None, proxy=proxy)  # type: ignore[arg-type]
    access_port = free_port()
    await server.start("127.0.0.1", access_port)
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        try:
            yield World(
                f"http://127.0.0.1:{access_port}", access_port, upstream_port, plane, activity, http
            )
        finally:
            await server.stop()
            await upstream.cleanup()


def test_addressing() -> None:
    proxy = PortProxy(None, None, ActivityTracker(), "dev.example.com")  # type: ignore[arg-type]

    def target(host: str, path: str) -> Target | None:
        from aiohttp.test_utils import make_mocked_request

        return proxy.target(make_mocked_request("GET", path, headers={"Host": host}))

    assert target(f"8080-{ENV}.dev.example.com", "/a?b=1") == Target(ENV, 8080, "", "/a?b=1")
    assert target(f"8080-{ENV}.DEV.example.com:443", "/") == Target(ENV, 8080, "", "/")
    assert target(f"8080-{ENV}.other.com", "/") is None
    assert target(f"99999-{ENV}.dev.example.com", "/") is None
    assert target("runner", f"/p/{ENV}/3000/x/y?z") == Target(ENV, 3000, f"/p/{ENV}/3000", "/x/y?z")
    assert target("runner", f"/p/{ENV}/3000") == Target(ENV, 3000, f"/p/{ENV}/3000", "")
    assert target("runner", f"/p/{ENV}/3000?q=1") == Target(ENV, 3000, f"/p/{ENV}/3000", "/?q=1")
    assert target("runner", "/exec/x") is None
    assert target("runner", f"/p/{ENV}/http/") is None


async def test_forwarded_headers_and_stripped_credentials(world: World) -> None:
    headers = {
        **world.host(),
        "Authorization": "Bearer roost_abc_def",
        # roost_session: the dashboard's, sent here too when plane and runner share a host name
        "Cookie": f"a=1; roost_proxy={SESSION}; roost_session=roost_x_y; b=2",
        "X-Forwarded-For": "10.0.0.9",
    }
    async with world.http.get(f"{world.base}/headers", headers=headers) as r:
        seen = await r.json()
    assert "authorization" not in seen
    assert seen["cookie"] == "a=1; b=2"
    assert seen["host"] == world.host()["Host"]
    assert seen["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert world.plane.asked[-1].credential == "roost_abc_def"  # the header wins over the cookie
    basic = {**world.host(), "Authorization": "Basic dXNlcjpwdw=="}  # the application's own
    async with world.http.get(f"{world.base}/headers", headers=basic) as r:
        assert (await r.json())["authorization"] == "Basic dXNlcjpwdw=="
    assert ENV in world.activity.take()[0].seconds_ago


async def test_bodies_stream_both_ways_untouched(world: World) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            yield bytes([i]) * 65536

    async with world.http.post(f"{world.base}/echo", headers=world.host(), data=chunks()) as r:
        body = await r.read()
    assert body == b"".join(bytes([i]) * 65536 for i in range(50))
    async with world.http.get(f"{world.base}/zipped", headers=world.host()) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(await r.read()) == b"z" * 1000


async def test_path_form(world: World) -> None:
    prefix = f"/p/{ENV}/{world.upstream_port}"
    async with world.http.get(f"{world.base}{prefix}", allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (308, prefix + "/")
    async with world.http.get(f"{world.base}{prefix}/moved", allow_redirects=False) as r:
        assert r.headers["Location"] == f"{prefix}/elsewhere"
    async with world.http.get(f"{world.base}{prefix}/headers") as r:
        assert (await r.json())["x-forwarded-prefix"] == prefix


async def test_websocket_relay(world: World) -> None:
    url = f"{world.base}/ws"
    async with world.http.ws_connect(url, headers=world.host(), protocols=["chat"]) as ws:
        assert ws.protocol == "chat"
        await ws.send_str("hello")
        assert (await ws.receive(timeout=5)).data == "HELLO"
        await ws.send_bytes(b"\x00" * 100_000)
        assert (await ws.receive(timeout=5)).data == b"\x00" * 100_000


async def test_refusals_logins_and_dead_ports(world: World) -> None:
    world.plane.allow = False
    async with world.http.get(f"{world.base}/headers", headers=world.host()) as r:
        assert (r.status, await r.text()) == (401, "roost: you are not logged in\n")
        assert r.headers["X-Roost-Refusal"] == "unauthenticated"
    assert not world.activity.take()[0].seconds_ago  # refused requests are not activity
    async with world.http.get(
        f"{world.base}/headers?roost_token=roost_bad", headers=world.host(), allow_redirects=False
    ) as r:
        assert r.status == 401 and "not valid" in await r.text()
    async with world.http.get(
        f"{world.base}/headers?x=1&roost_token=roost_good",
        headers=world.host(),
        allow_redirects=False,
    ) as r:
        assert (r.status, r.headers["Location"]) == (303, "/headers?x=1")
        cookie = r.cookies["roost_proxy"]
        assert cookie.value == SESSION and cookie["httponly"] and cookie["path"] == "/"
        assert cookie["samesite"] == "Lax"
    headers = {**world.host(), "Cookie": f"roost_proxy={SESSION}"}
    async with world.http.get(f"{world.base}/headers", headers=headers) as r:
        assert r.status == 200 and "cookie" not in await r.json()
    world.plane.allow = True
    dead = free_port()
    async with world.http.get(f"{world.base}/", headers=world.host(dead)) as r:
        assert r.status == 502 and f"nothing answers on port {dead}" in await r.text()


async def test_the_exec_routes_still_answer(world: World) -> None:
    async with world.http.get(f"{world.base}/healthz") as r:
        assert await r.text() == "ok"


def test_answers_are_kept_briefly_and_refusals_never() -> None:
    now = [0.0]
    plane = FakePlane()
    auth = ProxyAuthorizer(plane.ask, plane.exchange, clock=lambda: now[0])

    async def scenario() -> None:
        for _ in range(3):
            assert (await auth.decide(ENV, 80, "roost_x", "")).allowed
        assert len(plane.asked) == 1
        now[0] = 5.1
        await auth.decide(ENV, 80, "roost_x", "")
        assert len(plane.asked) == 2
        auth.forget(ENV)
        await auth.decide(ENV, 80, "roost_x", "")
        assert len(plane.asked) == 3
        plane.allow = False
        for _ in range(2):
            assert not (await auth.decide(ENV, 81, None, "")).allowed
        assert len(plane.asked) == 5

    asyncio.run(scenario())
