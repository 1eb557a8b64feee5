"""Registry authentication: the challenge a 401 carries, and the answer to it.

Registries start anonymous. A request that needs more is answered 401 with a challenge:

* ``WWW-Authenticate: Bearer realm="https://auth.example/token",service="reg",scope="..."``:
  fetch a token from the realm (anonymously, or with the registry's basic credentials if the
  operator configured some) and repeat the request with ``Authorization: Bearer <token>``. This is
  what Docker Hub, ghcr.io and most hosted registries do; the token is for one repository.
* ``WWW-Authenticate: Basic realm="..."``: repeat the request with the configured credentials.

We do not ping ``/v2/`` first (as docker does) but react to the 401 of the real request: one
round trip less for anonymous registries, the common case. Tokens are cached per repository for
the life of one :class:`~roost.runner.images.registry.RegistryClient` (one pull); an expired
token just earns another 401 and another token.
"""

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from roost.runner.images.errors import ImageError, ImageUnavailable

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic", lower-case
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """Parse a ``WWW-Authenticate`` header; None if it is empty or not a scheme we know."""
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "basic"):
        return None
    params = {m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _PARAM.finditer(rest)}
    return Challenge(scheme, params)


def basic_header(credentials: tuple[str, str]) -> str:
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


async def answer_challenge(
    client: httpx.AsyncClient,
    challenge: Challenge,
    *,
    registry: str,
    repo: str,
    credentials: tuple[str, str] | None,
) -> str:
    """The ``Authorization`` header value that answers ``challenge``; raises ImageError."""
    if challenge.scheme == "basic":
        if credentials is None:
            raise ImageError(
                f"registry {registry} requires a user name and password; configure credentials "
                f"for {registry}"
            )
        return basic_header(credentials)
    token = await _fetch_token(client, challenge, registry, repo, credentials)
    return f"Bearer {token}"


async def _fetch_token(
    client: httpx.AsyncClient,
    challenge: Challenge,
    registry: str,
    repo: str,
    credentials: tuple[str, str] | None,
) -> str:
    realm = challenge.params.get("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise ImageError(f"registry {registry} sent a token challenge without a usable realm")
    params = {"scope": challenge.params.get("scope") or f"repository:{repo}:pull"}
    if "service" in challenge.params:
        params["service"] = challenge.params["service"]
    headers = {"Authorization": basic_header(credentials)} if credentials else {}
    try:
        response = await client.get(realm, params=params, headers=headers)
    except httpx.TimeoutException as e:
        raise ImageUnavailable(
            f"the token service of registry {registry} ({realm}) timed out; retry later",
            delay=10,
        ) from e
    except httpx.TransportError as e:
        raise ImageUnavailable(
            f"the token service of registry {registry} ({realm}) is unreachable: {e}; "
            "retry when it is up",
            delay=10,
        ) from e
    return _token_from(response, registry)


def _token_from(response: httpx.Response, registry: str) -> str:
    if response.status_code in (401, 403):
        raise ImageError(
            f"registry {registry} refused the credentials (HTTP {response.status_code} from its "
            f"token service); check the user name and password configured for {registry}"
        )
    if response.status_code >= 500 or response.status_code == 429:
        raise ImageUnavailable(
            f"the token service of registry {registry} answered HTTP {response.status_code}; "
            "retry later",
            delay=10,
        )
    if response.status_code != 200:
        raise ImageError(
            f"the token service of registry {registry} answered HTTP {response.status_code}"
        )
    try:
        document = json.loads(response.content)
    except ValueError as e:
        raise ImageError(f"the token service of registry {registry} sent invalid JSON") from e
    # Docker's token spec says "token"; OAuth2-style services say "access_token".
    token = (
        (document.get("token") or document.get("access_token"))
        if isinstance(document, dict)
        else None
    )
    if not isinstance(token, str) or not token:
        raise ImageError(f"the token service of registry {registry} sent no token")
    return token
