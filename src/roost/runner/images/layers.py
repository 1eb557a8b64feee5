"""Unpacked layers: ``layers/<diff-id hex>/``, one directory per distinct layer.

The directory *is* the layer's filesystem tree, ready to be an overlay ``lowerdir``; images that
share a layer share the directory, and so its disk space and page cache.

A layer directory appears only complete. Work happens in ``layers/.tmp/``, and the finished tree
is renamed into place (an atomic step within one filesystem) after ``syncfs``; so a directory
named by a diff id is always a whole, verified layer, and a crash leaves only a temp directory.
Removal is the same in reverse: rename into ``layers/.trash/`` first, then delete, so a
half-deleted layer never looks like a complete one.

``layers/.meta/<hex>.json`` records each layer's size (the directory has no room for it: every
file in it shows up in containers). It is written before the rename, so a complete layer always
has one.
"""

import asyncio
import errno
import json
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.runner.images.blobs import fsync_dir
from roost.runner.images.locks import KeyedLocks
from roost.runner.images.refs import check_digest, is_digest
from roost.runner.images.unpack import unpack_layer


@dataclass(frozen=True)
class LayerBlob:
    """A verified layer blob on disk, and what to do with it once it is unpacked."""

    path: Path
    discard: Callable[[], None] | None = None


class LayerStore:
    def __init__(self, root: Path, locks: KeyedLocks) -> None:
        self.directory = root / "layers"
        self.tmp = self.directory / ".tmp"
        self._meta = self.directory / ".meta"
        self._trash = self.directory / ".trash"
        self._locks = locks

    def setup(self) -> None:
        for d in (self.directory, self.tmp, self._meta, self._trash):
            d.mkdir(parents=True, exist_ok=True)

    def path(self, diff_id: str) -> Path:
        return self.directory / check_digest(diff_id, "layer")

    def has(self, diff_id: str) -> bool:
        return self.path(diff_id).is_dir()

    def size(self, diff_id: str) -> int:
        try:
            meta = json.loads((self._meta / f"{check_digest(diff_id, 'layer')}.json").read_bytes())
            return int(meta["size"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def diff_ids(self) -> list[str]:
        """Every complete layer present."""
        return [
            f"sha256:{p.name}" for p in self.directory.iterdir() if is_digest(f"sha256:{p.name}")
        ]

    def new_tmp(self, label: str) -> Path:
        """A fresh path (not created) for work that becomes a layer."""
        return self.tmp / f"{label}.{os.getpid()}.{secrets.token_hex(4)}"

    async def ensure(
        self, diff_id: str, fetch: Callable[[], Awaitable[LayerBlob]], what: str
    ) -> int:
        """Make sure the layer is unpacked, fetching its blob only if it is not; return its
        size. One unpack per layer at a time, across coroutines and processes."""
        hexdigest = check_digest(diff_id, what)
        if self.has(diff_id):
            return self.size(diff_id)
        async with self._locks.hold(f"layer-{hexdigest}"):
            if not self.has(diff_id):
                await asyncio.to_thread(_remove_stale, self.tmp, hexdigest)
                blob = await fetch()
                await asyncio.to_thread(self._unpack_into_place, blob.path, diff_id, what)
                if blob.discard is not None:
                    blob.discard()
        return self.size(diff_id)

    async def adopt(self, tmp: Path, diff_id: str, size: int) -> None:
        """Move a finished tree from :meth:`new_tmp` into place, unless the layer exists."""
        hexdigest = check_digest(diff_id, "layer")
        async with self._locks.hold(f"layer-{hexdigest}"):
            if not self.has(diff_id):
                await asyncio.to_thread(self._commit, tmp, hexdigest, size)
        await asyncio.to_thread(remove_tree, tmp)

    async def remove(self, diff_id: str) -> None:
        hexdigest = check_digest(diff_id, "layer")
        trash = self._trash / f"{hexdigest}.{secrets.token_hex(4)}"
        async with self._locks.hold(f"layer-{hexdigest}"):
            try:
                os.rename(self.directory / hexdigest, trash)
            except FileNotFoundError:
                return
            (self._meta / f"{hexdigest}.json").unlink(missing_ok=True)
        await asyncio.to_thread(remove_tree, trash)

    def clean_work_dirs(self) -> None:
        """Remove leftovers of crashed work; only when nothing else uses the store."""
        for directory in (self.tmp, self._trash):
            for leftover in directory.iterdir():
                remove_tree(leftover)
        present = {p.name for p in self.directory.iterdir()}
        for meta in self._meta.glob("*.json"):
            if meta.stem not in present:
                meta.unlink(missing_ok=True)

    def _unpack_into_place(self, blob: Path, diff_id: str, what: str) -> None:
        """Unpack, commit, clean up: all in one thread, because a thread cannot be cancelled.
        A cancelled pull leaves this running to its end, which is then still a consistent one:
        a complete layer in place (a valid layer, even if nobody waits for it) or nothing."""
        tmp = self.new_tmp(check_digest(diff_id, what))
        try:
            unpacked = unpack_layer(blob, tmp, diff_id, what)
            self._commit(tmp, check_digest(diff_id, what), unpacked.size)
        finally:
            remove_tree(tmp)

    def _commit(self, tmp: Path, hexdigest: str, size: int) -> None:
        meta = self._meta / f"{hexdigest}.json"
        meta_tmp = self._meta / f".{hexdigest}.{secrets.token_hex(4)}"
        meta_tmp.write_text(json.dumps({"diff_id": f"sha256:{hexdigest}", "size": size}))
        os.rename(meta_tmp, meta)
        try:
            os.rename(tmp, self.directory / hexdigest)
        except OSError as e:
            # Only an orphaned unpack (see above) can have put it there first: same content.
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not self.has(
                f"sha256:{hexdigest}"
            ):
                raise
        fsync_dir(self.directory)


def remove_tree(path: Path) -> None:
    """Delete a tree if it exists, also where read-only directories would refuse (non-root).

    Refuses if anything is mounted inside: a build interrupted at the wrong moment can leave
    mounts of the host's ``/dev`` or ``/proc`` in its tree, and deleting through them would
    delete the host's files.
    """
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    mounted = mounts_under(path)
    if mounted:
        raise OSError(errno.EBUSY, f"refusing to delete {path}: {mounted[0]} is mounted in it")
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_make_writable_and_retry)
    else:  # onerror is deprecated from 3.12 on
        shutil.rmtree(path, onerror=_make_writable_and_retry)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``, from ``/proc/self/mountinfo``."""
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    top = str(path.resolve())
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = _unescape(fields[4])
            if point == top or point.startswith(top + "/"):
                found.append(point)
    return found


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _make_writable_and_retry(func: Callable[..., Any], path: str, exc: Any) -> None:
    parent = os.path.dirname(path)
    os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
    func(path)


def _remove_stale(tmp_dir: Path, hexdigest: str) -> None:
    """Temp trees of this layer left by a crashed unpack (we hold the layer's lock)."""
    for stale in tmp_dir.glob(f"{hexdigest}.*"):
        remove_tree(stale)
