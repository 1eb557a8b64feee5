"""The content-addressed blob store: ``blobs/sha256/<hex>``.

A blob's name is the sha256 of its bytes, so a name that exists is a blob that is complete and
correct: bytes stream into ``blobs/tmp/``, are hashed on the way, fsync'ed, and renamed into
place only if the hash matches. A crash leaves at worst a temp file, which the next writer of the
same blob (holding its lock) or ``gc`` removes.

The store keeps manifests and configs (small, and the record of what an image was). Layer blobs
live here only until they are unpacked: the unpacked layer is what containers use, and keeping
the compressed copy too would cost a third more disk for nothing we do today.

Downloads write and hash each chunk in a worker thread (``asyncio.to_thread``): hashing a
megabyte takes about a millisecond, which is too long to spend on the event loop a thousand
times per layer.
"""

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import BinaryIO

from roost.runner.images.errors import ImageError
from roost.runner.images.locks import KeyedLocks
from roost.runner.images.refs import check_digest

Download = Callable[[], AbstractAsyncContextManager[AsyncIterator[bytes]]]
_CHUNK = 1 << 20


class BlobStore:
    def __init__(self, root: Path, locks: KeyedLocks) -> None:
        self.directory = root / "blobs" / "sha256"
        self.tmp = root / "blobs" / "tmp"
        self._locks = locks
        self.downloads = 0
        """Blobs this store object downloaded (for tests and metrics)."""

    def path(self, digest: str) -> Path:
        return self.directory / check_digest(digest, "blob")

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    async def fetch(self, digest: str, size: int, download: Download, what: str) -> Path:
        """The blob's path, downloading it first unless present; at most one download at a time
        per blob across coroutines and processes."""
        hexdigest = check_digest(digest, what)
        path = self.directory / hexdigest
        if path.is_file():
            return path
        async with self._locks.hold(f"blob-{hexdigest}"):
            if path.is_file():  # another coroutine or process got it while we waited
                return path
            _remove_stale(self.tmp, hexdigest)
            tmp = self.tmp / f"{hexdigest}.{os.getpid()}.{secrets.token_hex(4)}"
            try:
                await self._download(tmp, digest, size, download, what)
                await asyncio.to_thread(_commit, tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        self.downloads += 1
        return path

    async def put(self, data: bytes) -> str:
        """Store small bytes (a manifest, a config) and return their digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        if not path.is_file():
            tmp = self.tmp / f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
            try:
                await asyncio.to_thread(_write_and_commit, tmp, data, path)
            finally:
                tmp.unlink(missing_ok=True)
        return digest

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    async def _download(
        self, tmp: Path, digest: str, size: int, download: Download, what: str
    ) -> None:
        hasher = hashlib.sha256()
        written = 0
        with tmp.open("wb") as sink:
            async with download() as chunks:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > size:
                        raise ImageError(
                            f"{what} is larger than the {size} bytes its manifest says"
                        )
                    await asyncio.to_thread(_hash_and_write, hasher, sink, chunk)
            await asyncio.to_thread(os.fsync, sink.fileno())
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            raise ImageError(f"{what} has digest {actual}, not {digest}: the data is corrupt")


async def verify_file(path: Path, digest: str, what: str) -> None:
    """Raise ImageError unless the file at ``path`` hashes to ``digest`` (hashed in a thread)."""
    actual = await asyncio.to_thread(file_digest, path)
    if actual != digest:
        raise ImageError(f"{what} ({path}) has digest {actual}, not {digest}: it is corrupt")


def file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_and_write(hasher: "hashlib._Hash", sink: BinaryIO, chunk: bytes) -> None:
    hasher.update(chunk)
    sink.write(chunk)


def _commit(tmp: Path, path: Path) -> None:
    os.rename(tmp, path)
    fsync_dir(path.parent)


def _write_and_commit(tmp: Path, data: bytes, path: Path) -> None:
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    _commit(tmp, path)


def _remove_stale(tmp_dir: Path, hexdigest: str) -> None:
    """Temp files of this blob left by a crashed writer (we hold the blob's lock)."""
    for stale in tmp_dir.glob(f"{hexdigest}.*"):
        stale.unlink(missing_ok=True)
