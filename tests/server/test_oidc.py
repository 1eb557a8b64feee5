"""OpenID Connect sign-in against a real (small) provider on loopback: the plane discovers it,
sends the browser there with state, nonce and PKCE, exchanges the code, checks the signed ID
token, and signs in the Roost user with that email -- and refuses everything else."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from roost.core.clock import SystemClock
from roost.core.schemas.web import SESSION_COOKIE
from roost.server.app import create_app
from roost.server.settings import OidcSettings, Settings
from tests.support.oidc import Provider, oidc_provider


@pytest.fixture
def provider() -> Iterator[Provider]:
    with oidc_provider("alice@example.com") as p:
        yield p


@pytest.fixture
async def app_client(tmp_path: Path, provider: Provider) -> AsyncIterator[httpx.AsyncClient]:
    oidc = OidcSettings(provider.issuer, provider.client_id, provider.client_secret, "TestID")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'roost.db'}", data_dir=tmp_path,
                        oidc=oidc)  # fmt: skip
    app = create_app(settings, SystemClock(), controllers=False)  # ID tokens carry real times
    async with app.router.lifespan_context(app):
        admin = (tmp_path / "admin-token").read_text().strip()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:8080") as client:  # fmt: skip
            client.headers["Authorization"] = f"Bearer {admin}"
            alice = {"name": "alice", "email": "alice@example.com"}
            r = await client.post("/api/v1/users", json=alice)
            assert r.status_code == 201, r.text
            del client.headers["Authorization"]
            yield client


async def through_provider(client: httpx.AsyncClient) -> httpx.Response:
    """What a browser does: start, follow the provider's redirect, land on the callback."""
    start = await client.get("/web/oidc/start")
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as internet:
        at_provider = await internet.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    callback = httpx.URL(at_provider.headers["location"])
    return await client.get(callback.path, params=dict(callback.params))


async def test_a_person_signs_in_through_the_provider(
    app_client: httpx.AsyncClient, provider: Provider
) -> None:
    done = await through_provider(app_client)
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    assert SESSION_COOKIE in app_client.cookies
    me = await app_client.get("/api/v1/web/session")
    assert me.json()["user_name"] == "alice"
    assert provider.tokens_issued == 1


async def test_a_callback_without_the_browsers_flow_is_refused(
    app_client: httpx.AsyncClient, provider: Provider
) -> None:
    start = await app_client.get("/web/oidc/start")
    async with httpx.AsyncClient() as internet:
        at_provider = await internet.get(start.headers["location"])
    callback = httpx.URL(at_provider.headers["location"])
    other_browser = httpx.AsyncClient(transport=app_client._transport, base_url=app_client.base_url)
    async with other_browser:
        r = await other_browser.get(callback.path, params=dict(callback.params))
        assert r.status_code == 303
        assert r.headers["location"].startswith("/#signin-error=")
        assert SESSION_COOKIE not in other_browser.cookies


async def test_a_tampered_state_is_refused(app_client: httpx.AsyncClient) -> None:
    await app_client.get("/web/oidc/start")
    r = await app_client.get("/web/oidc/callback", params={"code": "x", "state": "forged"})
    assert r.headers["location"].startswith("/#signin-error=")
    assert SESSION_COOKIE not in app_client.cookies


async def test_an_unknown_email_is_refused_with_what_to_do(
    app_client: httpx.AsyncClient, provider: Provider
) -> None:
    provider.email = "mallory@example.com"
    r = await through_provider(app_client)
    assert "no%20Roost%20user%20has%20the%20email" in r.headers["location"]
    assert SESSION_COOKIE not in app_client.cookies


async def test_a_token_signed_by_another_key_is_refused(
    app_client: httpx.AsyncClient, provider: Provider
) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    provider.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    real_jwks = provider.jwks()
    provider.jwks = lambda: real_jwks  # type: ignore[method-assign]
    provider.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # signs
    r = await through_provider(app_client)
    assert "signature" in r.headers["location"]
    assert SESSION_COOKIE not in app_client.cookies
