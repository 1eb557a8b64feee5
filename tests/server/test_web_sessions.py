"""Dashboard sign-in through the API: one-use links, the session cookie, CSRF, sign-out, and
the page's security headers."""

from pathlib import Path

import httpx

from roost.core.clock import FakeClock
from roost.core.schemas.web import SESSION_COOKIE
from roost.server.app import create_app
from roost.server.settings import Settings
from tests.support.fake_runner import FakeRunner
from tests.support.plane import PlaneHarness


async def signed_in(plane: PlaneHarness, user: httpx.AsyncClient) -> tuple[httpx.AsyncClient, str]:
    """A browser-like client signed in through a link that ``user`` made; and its CSRF token."""
    link = (await user.post("/api/v1/web/login-links")).json()
    code = link["url"].split("#login=", 1)[1]
    browser = plane.client()
    r = await browser.post("/api/v1/web/sign-in", json={"code": code})
    assert r.status_code == 201, r.text
    return browser, r.json()["csrf_token"]


async def test_a_link_signs_a_browser_in_once(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    link = (await alice.post("/api/v1/web/login-links")).json()
    assert link["url"].startswith("http://127.0.0.1:8080/#login=roost_")  # in the fragment
    code = link["url"].split("#login=", 1)[1]
    browser = plane.client()
    r = await browser.post("/api/v1/web/sign-in", json={"code": code})
    assert r.status_code == 201
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    me = (await browser.get("/api/v1/web/session")).json()
    assert me["user_name"] == "alice"
    again = await plane.client().post("/api/v1/web/sign-in", json={"code": code})
    assert again.status_code == 401
    assert "roost login --web" in again.json()["error"]["message"]


async def test_the_link_code_is_not_an_api_token(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    link = (await alice.post("/api/v1/web/login-links")).json()
    code = link["url"].split("#login=", 1)[1]
    r = await plane.client(code).get("/api/v1/whoami")
    assert r.status_code == 401


async def test_links_expire_after_a_minute(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    code = (await alice.post("/api/v1/web/login-links")).json()["url"].split("#login=")[1]
    plane.clock.advance(61)
    r = await plane.client().post("/api/v1/web/sign-in", json={"code": code})
    assert r.status_code == 401


async def test_changes_need_the_csrf_header(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    browser, csrf = await signed_in(plane, alice)
    assert (await browser.get("/api/v1/environments")).status_code == 200  # reads need none
    body = {"spec": {"desired_phase": "stopped"}}
    refused = await browser.post("/api/v1/environments", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    wrong = await browser.post("/api/v1/environments", json=body, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    ok = await browser.post("/api/v1/environments", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    me = (await alice.get("/api/v1/whoami")).json()
    assert ok.json()["metadata"]["owner_id"] == me["user"]["id"]


async def test_sign_out_revokes_the_session(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    browser, csrf = await signed_in(plane, alice)
    token = browser.cookies[SESSION_COOKIE]
    r = await browser.delete("/api/v1/web/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    stolen = plane.client()
    stolen.cookies.set(SESSION_COOKIE, token)
    assert (await stolen.get("/api/v1/whoami")).status_code == 401


async def test_sessions_end_after_their_lifetime(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    browser, _ = await signed_in(plane, alice)
    plane.clock.advance(plane.ctx.settings.web_session_seconds + 1)
    assert (await browser.get("/api/v1/whoami")).status_code == 401


async def test_the_page_has_a_strict_content_security_policy(plane: PlaneHarness) -> None:
    r = await plane.client().get("/")
    assert r.status_code == 200
    assert "<title>Roost</title>" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self';" in csp  # no runner yet: nothing else
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert (await plane.client().get("/static/vendor/xterm/xterm.js")).status_code == 200
    await FakeRunner(plane, access_url="http://10.1.2.3:8081").register()
    csp = (await plane.client().get("/")).headers["content-security-policy"]
    assert "connect-src 'self' http://10.1.2.3:8081 ws://10.1.2.3:8081;" in csp


async def test_without_oidc_the_start_sends_back_with_an_error(plane: PlaneHarness) -> None:
    r = await plane.client().get("/web/oidc/start")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/#signin-error=")
    config = (await plane.client().get("/api/v1/web/config")).json()
    assert config["oidc"] is False


async def test_over_tls_the_cookie_is_secure(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'roost.db'}", data_dir=tmp_path,
                        public_url="https://roost.example")  # fmt: skip
    app = create_app(settings, FakeClock(), controllers=False)
    async with app.router.lifespan_context(app):
        admin = (tmp_path / "admin-token").read_text().strip()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://roost.example") as c:
            auth = {"Authorization": f"Bearer {admin}"}
            link = await c.post("/api/v1/web/login-links", headers=auth)
            code = link.json()["url"].split("#login=", 1)[1]
            r = await c.post("/api/v1/web/sign-in", json={"code": code})
            assert "Secure" in r.headers["set-cookie"]
            assert "HttpOnly" in r.headers["set-cookie"]
