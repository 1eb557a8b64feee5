"""Where an image's blobs come from: a registry, files on disk, or memory.

Pulling and importing differ only in how a blob is had, so the installer (``install.py``) works
against this small interface and every source verifies what it hands over:

* :class:`RegistrySource` downloads into the content store (verified while streaming) and
  resolves a tag to this host's manifest, walking a multi-arch index if it gets one;
* :class:`FileSource` reads blobs of an OCI layout or a docker archive in place, hashing each
  before use (a file on disk is no more trusted than a registry);
* :class:`MemorySource` serves documents Roost just wrote itself (configs of imported rootfs
  tarballs and locally built images).
"""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from roost.runner.images.blobs import BlobStore, verify_file
from roost.runner.images.errors import ImageError
from roost.runner.images.layers import LayerBlob
from roost.runner.images.oci import (
    INDEX_TYPES,
    Descriptor,
    host_platform,
    parse_index,
    select_platform,
)
from roost.runner.images.registry import FetchedManifest, RegistryClient

MAX_CONFIG_BYTES = 16 * 1024 * 1024


class ImageSource(Protocol):
    async def read_blob(self, desc: Descriptor, what: str) -> bytes:
        """A small verified blob (a config)."""
        ...

    async def layer_blob(self, desc: Descriptor, what: str) -> LayerBlob:
        """A verified layer blob as a file."""
        ...


class RegistrySource:
    def __init__(self, client: RegistryClient, blobs: BlobStore, host: str, repo: str) -> None:
        self._client = client
        self._blobs = blobs
        self._host = host
        self._repo = repo

    async def resolve(self, reference: str) -> FetchedManifest:
        """The manifest for this host's platform that ``reference`` (tag or digest) names."""
        fetched = await self._client.fetch_manifest(self._host, self._repo, reference)
        if fetched.media_type in INDEX_TYPES:
            what = f"index {self._host}/{self._repo}:{reference}"
            chosen = select_platform(parse_index(fetched.body, what), host_platform(), what)
            fetched = await self._client.fetch_manifest(self._host, self._repo, chosen.digest)
            if fetched.media_type in INDEX_TYPES:
                raise ImageError(
                    f"{what} points to another index; nested indexes are not supported"
                )
        return fetched

    async def read_blob(self, desc: Descriptor, what: str) -> bytes:
        _check_small(desc, what)
        path = await self._fetch(desc, what)
        return await asyncio.to_thread(path.read_bytes)

    async def layer_blob(self, desc: Descriptor, what: str) -> LayerBlob:
        path = await self._fetch(desc, what)
        return LayerBlob(path, discard=lambda: self._blobs.remove(desc.digest))

    async def _fetch(self, desc: Descriptor, what: str) -> Path:
        def download() -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
            return self._client.blob(self._host, self._repo, desc.digest)

        return await self._blobs.fetch(desc.digest, desc.size, download, what)


class FileSource:
    """Blobs in files; ``verify=False`` when the caller named them by hashing them itself."""

    def __init__(self, locate: Callable[[str], Path], *, verify: bool = True) -> None:
        self._locate = locate
        self._verify = verify

    async def read_blob(self, desc: Descriptor, what: str) -> bytes:
        _check_small(desc, what)
        data = await asyncio.to_thread(self._existing(desc, what).read_bytes)
        if self._verify:
            _verify_bytes(data, desc.digest, what)
        return data

    async def layer_blob(self, desc: Descriptor, what: str) -> LayerBlob:
        path = self._existing(desc, what)
        if self._verify:
            await verify_file(path, desc.digest, what)
        return LayerBlob(path)

    def _existing(self, desc: Descriptor, what: str) -> Path:
        try:
            path = self._locate(desc.digest)
        except KeyError:
            raise ImageError(f"{what} ({desc.digest}) is missing from the archive") from None
        if not path.is_file():
            raise ImageError(f"{what} ({desc.digest}) is missing from the archive")
        return path


class MemorySource:
    def __init__(self, blobs: Mapping[str, bytes]) -> None:
        self._blobs = blobs

    async def read_blob(self, desc: Descriptor, what: str) -> bytes:
        return self._blobs[desc.digest]

    async def layer_blob(self, desc: Descriptor, what: str) -> LayerBlob:
        raise ImageError(f"{what} is not in the store and has no source")


def _check_small(desc: Descriptor, what: str) -> None:
    if desc.size > MAX_CONFIG_BYTES:
        raise ImageError(f"{what} is {desc.size} bytes; more than {MAX_CONFIG_BYTES} is refused")


def _verify_bytes(data: bytes, digest: str, what: str) -> None:
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ImageError(f"{what} has digest {actual}, not {digest}: it is corrupt")
