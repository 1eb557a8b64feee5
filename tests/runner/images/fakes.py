"""An in-memory registry behind ``httpx.MockTransport``, and tar builders for test layers.

:class:`FakeRegistry` speaks enough of the distribution API for the client: manifests by tag or
digest, blobs, a Bearer token service or Basic auth, and hooks to inject failures. It records
every request so tests can count downloads.
"""

import asyncio
import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

REGISTRY = "registry.test"
TOKEN_REALM = "https://auth.test/token"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class TarBuilder:
    """Build a layer tar in memory, entry by entry (names are taken as given: hostile ones too)."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        # Open across calls on purpose: entries are added one by one; bytes() closes it.
        self._tar = tarfile.open(fileobj=self._buffer, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0) -> "TarBuilder":
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, uid
        self._tar.addfile(info, io.BytesIO(data))
        return self

    def dir(self, name: str, mode: int = 0o755) -> "TarBuilder":
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, mode
        self._tar.addfile(info)
        return self

    def symlink(self, name: str, target: str) -> "TarBuilder":
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        self._tar.addfile(info)
        return self

    def hardlink(self, name: str, target: str) -> "TarBuilder":
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.LNKTYPE, target
        self._tar.addfile(info)
        return self

    def bytes(self) -> bytes:
        self._tar.close()
        return self._buffer.getvalue()


@dataclass(frozen=True)
class Layer:
    tar: bytes
    blob: bytes
    media_type: str

    @property
    def diff_id(self) -> str:
        return digest_of(self.tar)

    @property
    def digest(self) -> str:
        return digest_of(self.blob)


def gzip_layer(tar: bytes) -> Layer:
    return Layer(tar, gzip.compress(tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")


def config_for(layers: list[Layer], **container: object) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": container,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        }
    ).encode()


def manifest_for(config: bytes, layers: list[Layer]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": x.media_type, "digest": x.digest, "size": len(x.blob)} for x in layers
            ],
        }
    ).encode()


Hook = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class FakeRegistry:
    auth: Literal["none", "bearer", "basic"] = "none"
    users: dict[str, str] = field(default_factory=dict)
    """For Basic auth, and for the token service when set (else it hands tokens to anyone)."""
    latency_s: float = 0.0
    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    hook: Hook | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add_image(self, repo: str, tag: str, layers: list[Layer], **container: object) -> str:
        config = config_for(layers, **container)
        manifest = manifest_for(config, layers)
        self.blobs[digest_of(config)] = config
        for layer in layers:
            self.blobs[layer.digest] = layer.blob
        return self.add_manifest(repo, tag, OCI_MANIFEST, manifest)

    def add_manifest(self, repo: str, tag: str, media_type: str, body: bytes) -> str:
        digest = digest_of(body)
        self.manifests[(repo, tag)] = (media_type, body)
        self.manifests[(repo, digest)] = (media_type, body)
        return digest

    def blob_gets(self) -> list[str]:
        return [r.url.path for r in self.requests if "/blobs/" in r.url.path]

    def manifest_gets(self) -> list[str]:
        return [r.url.path for r in self.requests if "/manifests/" in r.url.path]

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "auth.test"]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.hook is not None and (response := self.hook(request)) is not None:
            return response
        if request.url.host == "auth.test":
            return self._token(request)
        if not self._authorized(request):
            return self._challenge(request)
        return self._serve(request)

    def _serve(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix("/v2/").rsplit("/", 2)
        if len(parts) != 3:
            return httpx.Response(404)
        repo, kind, ref = parts
        if kind == "manifests" and (repo, ref) in self.manifests:
            media_type, body = self.manifests[(repo, ref)]
            headers = {"Content-Type": media_type, "Docker-Content-Digest": digest_of(body)}
            return httpx.Response(200, content=body, headers=headers)
        if kind == "blobs" and ref in self.blobs:
            return httpx.Response(200, content=self.blobs[ref])
        error = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
        return httpx.Response(404, json=error)

    def _authorized(self, request: httpx.Request) -> bool:
        header = str(request.headers.get("authorization", ""))
        if self.auth == "none":
            return True
        if self.auth == "basic":
            return header in {_basic(u, p) for u, p in self.users.items()}
        repo = request.url.path.removeprefix("/v2/").rsplit("/", 2)[0]
        return header == f"Bearer token-for-{repo}"

    def _challenge(self, request: httpx.Request) -> httpx.Response:
        if self.auth == "basic":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="fake"'})
        repo = request.url.path.removeprefix("/v2/").rsplit("/", 2)[0]
        challenge = (
            f'Bearer realm="{TOKEN_REALM}",service="{REGISTRY}",scope="repository:{repo}:pull"'
        )
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    def _token(self, request: httpx.Request) -> httpx.Response:
        if self.users and request.headers.get("authorization") not in {
            _basic(u, p) for u, p in self.users.items()
        }:
            return httpx.Response(401)
        repo = request.url.params["scope"].split(":")[1]
        return httpx.Response(200, json={"token": f"token-for-{repo}", "expires_in": 300})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
