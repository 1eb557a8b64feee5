"""OpenID Connect sign-in for the dashboard: the authorization code flow with PKCE, as a
confidential client of one configured provider.

The browser is sent to the provider with a random ``state``, ``nonce`` and PKCE verifier that
are kept in a short-lived HttpOnly cookie (so the callback is bound to the browser that started
it: no login CSRF). On the callback the plane exchanges the code at the token endpoint and checks
the ID token: an RS256 signature by a key of the provider's JWKS, ``iss``, ``aud``, ``exp`` and
the ``nonce``.

The signed-in person becomes the Roost user whose **email** equals the token's verified
``email`` claim. Users are not created on first sign-in: an admin creates them (with the email),
so an account at the provider alone gives no access to Roost.
"""

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select

from roost.core.errors import Unauthenticated, Unavailable
from roost.server.services.context import Context
from roost.server.settings import OidcSettings
from roost.server.store.rows import UserRow

TIMEOUT = 10.0
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Flow:
    """What the browser keeps between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str

    def encode(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def decode(cls, value: str) -> "Flow":
        parts = value.split(".")
        if len(parts) != 3 or not all(parts):
            raise Unauthenticated("the sign-in attempt expired; start again")
        return cls(*parts)


def new_flow() -> Flow:
    return Flow(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48))


def callback_url(ctx: Context) -> str:
    return f"{ctx.settings.public_url.rstrip('/')}/web/oidc/callback"


async def discover(config: OidcSettings) -> dict[str, Any]:
    url = f"{config.issuer.rstrip('/')}/.well-known/openid-configuration"
    doc = await _get_json(url)
    if doc.get("issuer") != config.issuer:
        raise Unavailable(f"the OpenID provider at {url} names another issuer: {doc.get('issuer')}")
    return doc


async def authorization_url(ctx: Context, config: OidcSettings, flow: Flow) -> str:
    meta = await discover(config)
    challenge = _b64(hashlib.sha256(flow.verifier.encode()).digest())
    query = urlencode({
        "response_type": "code", "client_id": config.client_id,
        "redirect_uri": callback_url(ctx), "scope": "openid email profile",
        "state": flow.state, "nonce": flow.nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
    })  # fmt: skip
    return f"{meta['authorization_endpoint']}?{query}"


async def sign_in(ctx: Context, config: OidcSettings, flow: Flow, code: str, state: str) -> str:
    """The callback: returns the id of the Roost user the provider vouched for."""
    if not secrets.compare_digest(state, flow.state):
        raise Unauthenticated("the sign-in answer does not match this browser's attempt")
    meta = await discover(config)
    claims = await _id_token_claims(ctx, config, meta, code, flow)
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        raise Unauthenticated("the provider did not vouch for an email address")
    async with ctx.db.read() as session:
        user = await session.scalar(select(UserRow).where(UserRow.email == email))
    if user is None:
        raise Unauthenticated(
            f"no Roost user has the email {email}; ask an admin to create one "
            f"(`roost user create NAME --email {email}`)"
        )
    return user.id


async def _id_token_claims(
    ctx: Context, config: OidcSettings, meta: dict[str, Any], code: str, flow: Flow
) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": callback_url(ctx), "code_verifier": flow.verifier}  # fmt: skip
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        r = await http.post(meta["token_endpoint"], data=form,
                            auth=(config.client_id, config.client_secret))  # fmt: skip
        if r.status_code != 200:
            raise Unauthenticated(f"the OpenID provider refused the sign-in: {r.text[:200]}")
        id_token = r.json().get("id_token")
        jwks = (await http.get(meta["jwks_uri"])).json()
    if not isinstance(id_token, str):
        raise Unauthenticated("the OpenID provider sent no ID token")
    claims = verify_rs256(id_token, jwks)
    _check_claims(ctx, config, claims, flow.nonce)
    return claims


def verify_rs256(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The claims of a compact JWS signed RS256 by a key of ``jwks``; anything else refused."""
    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(_unb64(head_b64))
        signature = _unb64(sig_b64)
    except ValueError as exc:
        raise Unauthenticated("the ID token is malformed") from exc
    if header.get("alg") != "RS256":
        raise Unauthenticated(f"ID tokens must be signed RS256, not {header.get('alg')}")
    signed = f"{head_b64}.{body_b64}".encode()
    for key in jwks.get("keys", []):
        if key.get("kty") != "RSA" or key.get("kid", header.get("kid")) != header.get("kid"):
            continue
        public = rsa.RSAPublicNumbers(_int(key["e"]), _int(key["n"])).public_key()
        try:
            public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        claims: dict[str, Any] = json.loads(_unb64(body_b64))
        return claims
    raise Unauthenticated("the ID token's signature is not the provider's")


def _check_claims(ctx: Context, config: OidcSettings, claims: dict[str, Any], nonce: str) -> None:
    now = ctx.clock.now().timestamp()
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    problems = [
        ("issuer", claims.get("iss") != config.issuer),
        ("audience", config.client_id not in audiences),
        ("expiry", not isinstance(claims.get("exp"), int | float)
         or claims["exp"] + LEEWAY_SECONDS < now),
        ("nonce", not secrets.compare_digest(str(claims.get("nonce", "")), nonce)),
    ]  # fmt: skip
    wrong = [name for name, bad in problems if bad]
    if wrong:
        raise Unauthenticated(f"the ID token is not valid here ({', '.join(wrong)})")


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            r = await http.get(url)
            r.raise_for_status()
            doc: dict[str, Any] = r.json()
            return doc
    except (httpx.HTTPError, ValueError) as exc:
        raise Unavailable(f"cannot reach the OpenID provider ({url}): {exc}") from exc


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(text: str) -> int:
    return int.from_bytes(_unb64(text), "big")
