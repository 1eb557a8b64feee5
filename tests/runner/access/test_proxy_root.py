"""The port proxy against a real HTTP server inside a real environment (root): the admission
table (owner, organization member, outsider, anonymous), browser login, WebSocket echo."""

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from roost.runner.images import Image
from tests.runner.access.conftest import create_env
from tests.support.plane import PlaneHarness
from tests.support.runner import RealRunner, run_in, wait_phase

pytestmark = pytest.mark.root
ECHO = (Path(__file__).parent / "echo_server.py").read_bytes()
ALLOWED = {  # admission -> who gets through
    "owner": {"alice"},
    "organization": {"alice", "bob"},
    "public": {"alice", "bob", "carol", "anonymous"},
}


async def set_port(
    plane: PlaneHarness, client: httpx.AsyncClient, env_id: str, port: int, admission: str | None
) -> None:
    """``roost env ports`` by hand: the versioned spec update, then wait for the runner."""
    doc = (await client.get(f"/api/v1/environments/{env_id}")).json()
    ports = [p for p in doc["spec"]["ports"] if p["port"] != port]
    if admission is not None:
        ports.append({"port": port, "admission": admission})
    spec = {**doc["spec"], "ports": ports}
    r = await client.put(f"/api/v1/environments/{env_id}/spec", json={"spec": spec})
    assert r.status_code == 200, r.text
    want = f"{port} ({admission})" if admission else None
    for _ in range(200):
        status = (await client.get(f"/api/v1/environments/{env_id}")).json()["status"]
        message = status["conditions"].get("ports", {}).get("message", "")
        if (want in message) if want else str(port) not in message:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(status)


class Proxy:
    def __init__(self, runner: RealRunner, env_id: str) -> None:
        self.base = f"http://{runner.config.access_listen}"
        self.port = runner.config.access_listen.rsplit(":", 1)[1]
        self.env_id = env_id

    def host(self, port: int) -> str:
        return f"{port}-{self.env_id}.localhost:{self.port}"

    async def get(
        self, port: int, path: str = "/", token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Host": self.host(port), **kwargs.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(base_url=self.base, timeout=20) as http:
            return await http.get(path, headers=headers, **kwargs)


def token_of(client: httpx.AsyncClient) -> str:
    return client.headers["authorization"].split()[1]


@pytest.fixture
async def world(plane: PlaneHarness, ssh_runner: RealRunner, debian_base: Image) -> dict[str, Any]:
    alice = await plane.user("alice")
    bob = await plane.user("bob")
    r = await plane.admin.post("/api/v1/organizations", json={"name": "other"})
    assert r.status_code == 201, r.text
    carol = await plane.user("carol", org="other")
    env_id = await create_env(plane, alice, debian_base.ref)
    script = "cat > /tmp/echo.py; cd /tmp; python3 echo.py 8000 </dev/null >/tmp/echo.log 2>&1 &"
    code, _, err = await run_in(plane, alice, env_id, "sh", "-c", script, stdin=ECHO)
    assert code == 0, err
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "env_id": env_id,
        "proxy": Proxy(ssh_runner, env_id),
    }


async def wait_serving(proxy: Proxy, token: str) -> None:
    for _ in range(100):
        r = await proxy.get(8000, token=token)
        if r.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(r.text)


async def test_admission_table(plane: PlaneHarness, world: dict[str, Any]) -> None:
    proxy: Proxy = world["proxy"]
    alice = world["alice"]
    tokens = {name: token_of(world[name]) for name in ("alice", "bob", "carol")}
    tokens["anonymous"] = ""
    assert (await proxy.get(8000, token=tokens["alice"])).status_code == 404  # not open yet
    for admission, allowed in ALLOWED.items():
        await set_port(plane, alice, world["env_id"], 8000, admission)
        await wait_serving(proxy, tokens["alice"])
        for who, token in tokens.items():
            r = await proxy.get(8000, "/hello", token=token or None)
            expected = 200 if who in allowed else (401 if who == "anonymous" else 403)
            assert r.status_code == expected, (admission, who, r.text)
            if expected == 200:
                assert r.text == "hello from the environment: /hello\n"
            else:
                assert r.text.startswith("roost: ") and "open to" in r.text
    events = (await plane.admin.get("/api/v1/audit")).json()["items"]
    assert any(e["action"] == "environment.proxy" and e["outcome"] == "denied" for e in events)
    assert any(e["action"] == "environment.port_admission" for e in events)


async def test_closed_port_and_stopped_environment(
    plane: PlaneHarness, world: dict[str, Any]
) -> None:
    proxy: Proxy = world["proxy"]
    await set_port(plane, world["alice"], world["env_id"], 8000, "public")
    await wait_serving(proxy, "")
    await set_port(plane, world["alice"], world["env_id"], 8000, None)
    r = await proxy.get(8000)
    assert r.status_code == 404 and "is not open" in r.text
    await set_port(plane, world["alice"], world["env_id"], 8000, "public")
    await plane.admin.post(f"/api/v1/environments/{world['env_id']}/stop")
    await wait_phase(plane, world["env_id"], "stopped")
    r = await proxy.get(8000)
    assert r.status_code == 503 and "stopped" in r.text, r.text


async def test_browser_login_sets_a_cookie_that_is_not_forwarded(
    plane: PlaneHarness, world: dict[str, Any]
) -> None:
    proxy: Proxy = world["proxy"]
    env_id = world["env_id"]
    await set_port(plane, world["alice"], env_id, 8000, "owner")
    await wait_serving(proxy, token_of(world["alice"]))
    r = await world["alice"].post(f"/api/v1/environments/{env_id}/ports/8000/login")
    assert r.status_code == 200, r.text
    link = httpx.URL(r.json()["url"])
    assert link.host == f"8000-{env_id}.localhost"
    async with httpx.AsyncClient(base_url=proxy.base, timeout=20) as browser:
        headers = {"Host": proxy.host(8000)}
        first = await browser.get(f"/headers?{link.query.decode()}", headers=headers)
        assert first.status_code == 303 and first.headers["location"] == "/headers"
        cookie = first.headers["set-cookie"]
        assert "roost_proxy=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        session = cookie.split(";")[0].split("=", 1)[1]
        page = await browser.get(
            "/headers", headers={**headers, "Cookie": f"theirs=1; roost_proxy={session}"}
        )
        assert page.status_code == 200, page.text
        seen = page.json()
        assert seen["cookie"] == "theirs=1"  # the platform's cookie is not forwarded
        assert "authorization" not in seen
        assert seen["host"] == proxy.host(8000)
        assert seen["x-forwarded-proto"] == "http"
        again = await browser.get(f"/headers?{link.query.decode()}", headers=headers)
        assert again.status_code == 401  # a login link works once
    r = await proxy.get(8000, "/headers", headers={"Cookie": f"roost_proxy={session}x"})
    assert r.status_code == 401


async def test_path_form_and_websocket_echo(plane: PlaneHarness, world: dict[str, Any]) -> None:
    proxy: Proxy = world["proxy"]
    env_id = world["env_id"]
    await set_port(plane, world["alice"], env_id, 8000, "organization")
    token = token_of(world["bob"])
    await wait_serving(proxy, token)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=proxy.base, timeout=20) as http:
        r = await http.get(f"/p/{env_id}/8000", headers=auth)
        assert r.status_code == 308 and r.headers["location"] == f"/p/{env_id}/8000/"
        r = await http.get(f"/p/{env_id}/8000/x/y?z=1", headers=auth)
        assert r.text == "hello from the environment: /x/y?z=1\n"
        r = await http.get(f"/p/{env_id}/8000/redirect", headers=auth)
        assert r.headers["location"] == f"/p/{env_id}/8000/landing"
        r = await http.post(f"/p/{env_id}/8000/echo", headers=auth, content=b"x" * 300_000)
        assert r.content == b"x" * 300_000
    async with aiohttp.ClientSession() as session:
        url = f"{proxy.base}/ws"
        async with session.ws_connect(url, headers={"Host": proxy.host(8000), **auth}) as ws:
            await ws.send_str("hello")
            assert (await ws.receive(timeout=10)).data == "hello"
            await ws.send_bytes(b"\x00\x01" * 40_000)
            assert (await ws.receive(timeout=10)).data == b"\x00\x01" * 40_000
        async with session.ws_connect(f"{proxy.base}/p/{env_id}/8000/ws", headers=auth) as ws:
            await ws.send_str("via path")
            assert (await ws.receive(timeout=10)).data == "via path"
