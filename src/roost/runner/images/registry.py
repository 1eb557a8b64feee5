"""A client for the registry (distribution v2) API: manifests and blobs, nothing else.

* ``GET /v2/<repo>/manifests/<tag-or-digest>`` with an ``Accept`` for OCI and docker indexes and
  manifests; ``GET /v2/<repo>/blobs/<digest>``, following redirects (registries hand blobs to
  object storage; httpx drops ``Authorization`` when a redirect leaves the origin).
* HTTPS, except plain HTTP for loopback registries and those in ``insecure_registries``.
* Authentication reacts to 401 challenges (see :mod:`.auth`).
* Every failure becomes one of two errors: :class:`ImageUnavailable` when retrying may help
  (connection refused, timeout, 5xx, 429) and :class:`ImageError` when it will not (404, access
  denied, a body that is not what it claims). The digest of every manifest is checked against
  the one asked for or announced; blobs are checked by the content store as they stream in.

The transport is injectable: unit tests run the client against an ``httpx.MockTransport`` fake.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx

from roost.runner.images.auth import answer_challenge, parse_challenge
from roost.runner.images.errors import ImageError, ImageUnavailable
from roost.runner.images.oci import ACCEPT_MANIFESTS, media_type_of
from roost.runner.images.refs import api_host, is_digest, is_insecure

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FetchedManifest:
    digest: str
    media_type: str
    body: bytes


class RegistryClient:
    """One client per operation (a pull); it caches the tokens it earns for its life."""

    def __init__(
        self,
        *,
        insecure_registries: frozenset[str] = frozenset(),
        credentials: Mapping[str, tuple[str, str]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._insecure = insecure_registries
        self._credentials = dict(credentials or {})
        self._client = httpx.AsyncClient(
            transport=transport, timeout=timeout, headers={"User-Agent": "roost"}
        )
        self._auth: dict[tuple[str, str], str] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def fetch_manifest(self, host: str, repo: str, reference: str) -> FetchedManifest:
        """Fetch a manifest or index by tag or digest and check its digest."""
        async with self._open(host, repo, f"manifests/{reference}", ACCEPT_MANIFESTS) as response:
            await _check(response, host, repo, f"manifest {reference}")
            body = await _read_capped(response, host, MAX_MANIFEST_BYTES)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        announced = response.headers.get("docker-content-digest", "")
        expected = reference if is_digest(reference) else announced
        if expected.startswith("sha256:") and expected != digest:
            raise ImageError(
                f"registry {host} sent a manifest for {repo}:{reference} whose digest is {digest}, "
                f"not {expected}"
            )
        media_type = media_type_of(body, response.headers.get("content-type", ""))
        return FetchedManifest(digest=digest, media_type=media_type, body=body)

    @asynccontextmanager
    async def blob(self, host: str, repo: str, digest: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Stream a blob's bytes (unverified: the caller hashes them)."""
        async with self._open(host, repo, f"blobs/{digest}", None) as response:
            await _check(response, host, repo, f"blob {digest}")
            yield _chunks(response, host)

    @asynccontextmanager
    async def _open(
        self, host: str, repo: str, path: str, accept: str | None
    ) -> AsyncIterator[httpx.Response]:
        scheme = "http" if is_insecure(host, self._insecure) else "https"
        url = f"{scheme}://{api_host(host)}/v2/{repo}/{path}"
        response = await self._send_with_auth(host, repo, url, accept)
        try:
            yield response
        finally:
            await response.aclose()

    async def _send_with_auth(
        self, host: str, repo: str, url: str, accept: str | None
    ) -> httpx.Response:
        for attempt in (1, 2):
            headers = {"Accept": accept} if accept else {}
            if (host, repo) in self._auth:
                headers["Authorization"] = self._auth[(host, repo)]
            response = await self._send(host, url, headers)
            if response.status_code != 401 or attempt == 2:
                return response
            await response.aclose()
            challenge = parse_challenge(response.headers.get("www-authenticate", ""))
            if challenge is None:
                raise ImageError(
                    f"registry {host} answered HTTP 401 without an authentication challenge "
                    "Roost understands (Bearer or Basic)"
                )
            self._auth[(host, repo)] = await answer_challenge(
                self._client,
                challenge,
                registry=host,
                repo=repo,
                credentials=self._credentials.get(host),
            )
        raise AssertionError("unreachable")

    async def _send(self, host: str, url: str, headers: dict[str, str]) -> httpx.Response:
        request = self._client.build_request("GET", url, headers=headers)
        try:
            return await self._client.send(request, stream=True, follow_redirects=True)
        except httpx.TimeoutException as e:
            raise ImageUnavailable(
                f"registry {host} did not answer in time ({type(e).__name__}); retry later",
                delay=10,
            ) from e
        except httpx.TransportError as e:
            raise _unreachable(host, e) from e


def _unreachable(host: str, error: httpx.TransportError) -> ImageUnavailable:
    reason = str(error) or type(error).__name__
    hint = "retry when it is up"
    if "SSL" in reason or "TLS" in reason:
        hint = f"if {host} serves plain HTTP, list it in the insecure registries"
    return ImageUnavailable(f"registry {host} is unreachable: {reason}; {hint}", delay=10)


async def _chunks(response: httpx.Response, host: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes(1 << 20):
            yield chunk
    except httpx.TimeoutException as e:
        raise ImageUnavailable(f"registry {host} stalled while sending a blob", delay=10) from e
    except httpx.TransportError as e:
        raise _unreachable(host, e) from e


async def _read_capped(response: httpx.Response, host: str, limit: int) -> bytes:
    body = bytearray()
    async for chunk in _chunks(response, host):
        body += chunk
        if len(body) > limit:
            raise ImageError(f"registry {host} sent a manifest larger than {limit} bytes")
    return bytes(body)


async def _check(response: httpx.Response, host: str, repo: str, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = await _error_detail(response, host)
    if status == 404:
        raise ImageError(
            f"image '{repo}' not found in registry {host} (HTTP 404 for {what}{detail}); "
            "check the name and tag"
        )
    if status in (401, 403):
        raise ImageError(
            f"registry {host} denied access to '{repo}' (HTTP {status} for {what}{detail}); "
            f"check the name and the credentials configured for {host}"
        )
    if status >= 500 or status in (408, 429):
        raise ImageUnavailable(
            f"registry {host} answered HTTP {status} for {what} of '{repo}'{detail}; retry later",
            delay=_retry_after(response),
        )
    raise ImageError(f"registry {host} answered HTTP {status} for {what} of '{repo}'{detail}")


async def _error_detail(response: httpx.Response, host: str) -> str:
    """The first error of a distribution-API error body, as ``: CODE message``."""
    try:
        body = await _read_capped(response, host, 64 * 1024)
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        return f": {first.get('code', '')} {first.get('message', '')}".rstrip()
    except (ImageError, ImageUnavailable, ValueError, AttributeError, IndexError, TypeError):
        return ""


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "10")), 1.0), 300.0)
    except ValueError:
        return 10.0
