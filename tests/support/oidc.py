"""A minimal OpenID provider for tests, on loopback: discovery, an authorization endpoint that
signs in one configured person at once (no login form), a token endpoint that checks the client's
secret, the redirect URI and PKCE, and a JWKS with the RSA key that signs its ID tokens RS256.

Real enough that the plane's side is exercised as against a hosted provider; nothing is faked
in the plane.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    email: str
    """Who signs in at the authorization endpoint."""
    key: rsa.RSAPrivateKey
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens_issued: int = 0

    def sign(self, claims: dict[str, Any]) -> str:
        head = b64(json.dumps({"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
        body = b64(json.dumps(claims).encode())
        sig = self.key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{b64(sig)}"

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes(3, "big")
        return {"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "n": b64(n), "e": b64(e)}]}


@contextmanager
def oidc_provider(email: str) -> Iterator[Provider]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    provider = Provider(issuer, "roost-test", secrets.token_urlsafe(16), email, key)
    server.RequestHandlerClass = _handler(provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


def _handler(p: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, {
                    "issuer": p.issuer, "authorization_endpoint": f"{p.issuer}/authorize",
                    "token_endpoint": f"{p.issuer}/token", "jwks_uri": f"{p.issuer}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                })  # fmt: skip
            elif url.path == "/jwks":
                self._json(200, p.jwks())
            elif url.path == "/authorize":
                self._authorize({k: v[0] for k, v in parse_qs(url.query).items()})
            else:
                self._json(404, {"error": "not_found"})

        def _authorize(self, q: dict[str, str]) -> None:
            if q.get("client_id") != p.client_id or q.get("code_challenge_method") != "S256":
                self._json(400, {"error": "invalid_request"})
                return
            code = secrets.token_urlsafe(16)
            p.codes[code] = q
            target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            pair = f"{p.client_id}:{p.client_secret}".encode()
            basic = "Basic " + base64.b64encode(pair).decode()
            request = p.codes.pop(form.get("code", ""), None)
            challenge = b64(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            good = (
                self.headers.get("Authorization") == basic and request is not None
                and form.get("redirect_uri") == request["redirect_uri"]
                and challenge == request["code_challenge"]
            )  # fmt: skip
            if not good or request is None:
                self._json(400, {"error": "invalid_grant"})
                return
            now = int(time.time())
            claims = {"iss": p.issuer, "aud": p.client_id, "sub": "person-1", "iat": now,
                      "exp": now + 300, "nonce": request["nonce"], "email": p.email,
                      "email_verified": True}  # fmt: skip
            p.tokens_issued += 1
            self._json(200, {"access_token": "at", "token_type": "Bearer",
                             "id_token": p.sign(claims)})  # fmt: skip

        def _json(self, status: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
