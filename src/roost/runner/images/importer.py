"""Importing an image from a path, whatever kind of file it is.

The format is told by content, never by file name:

* a directory with ``oci-layout`` is an OCI image layout; with ``manifest.json`` a docker archive;
* a file is read as a tar (gzip- or zstd-compressed or not, by magic bytes) and its top-level
  names decide: an archive holds only ``oci-layout``, ``index.json``, ``manifest.json``,
  ``repositories``, ``blobs/``, hex-named directories and ``*.json``/``*.tar`` files; the first
  other name (``bin``, ``etc``...) makes it a **rootfs tarball**. A rootfs is therefore
  recognised after a handful of entries, while an archive is read through once (cheap for the
  usual uncompressed archive: tar entries are skipped by seeking).

Archive tars are unpacked into scratch space with ``tarfile``'s ``data`` filter (no absolute
paths, no ``..``, no links leaving the directory: an archive needs none of the ownership or
device nodes a layer does) and then read as a directory. A rootfs tarball becomes a single layer
directly, with a config of our own: ``PATH`` and ``Cmd ["/bin/sh"]``.
"""

import asyncio
import os
import re
import secrets
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Literal

from roost.runner.images import safetar
from roost.runner.images.archives import import_docker_archive, import_oci_layout
from roost.runner.images.blobs import file_digest
from roost.runner.images.errors import ImageError
from roost.runner.images.install import DEFAULT_PATH, Installer, single_layer_documents
from roost.runner.images.layers import remove_tree
from roost.runner.images.oci import OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, Descriptor
from roost.runner.images.records import ImageRecord
from roost.runner.images.sources import MemorySource
from roost.runner.images.unpack import decompressed, sniff_compression, unpack_layer

Format = Literal["oci-layout", "docker-archive", "rootfs"]
_ARCHIVE_NAME = re.compile(
    r"^(oci-layout|index\.json|manifest\.json|repositories|blobs|[0-9a-f]{64}|[^/]+\.(json|tar))$"
)
_OCI_LAYER_TYPE = {"none": OCI_LAYER_TAR, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}


async def import_path(
    path: Path, ref: str, name: str | None, installer: Installer, scratch: Path
) -> ImageRecord:
    kind = await asyncio.to_thread(detect, path)
    if await asyncio.to_thread(path.is_dir):
        return await _import_directory(path, kind, ref, name, installer)
    if kind == "rootfs":
        return await import_rootfs(path, ref, installer)
    unpacked = scratch / f"archive.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        await asyncio.to_thread(extract_archive, path, unpacked)
        return await _import_directory(unpacked, kind, ref, name, installer)
    finally:
        await asyncio.to_thread(remove_tree, unpacked)


def detect(path: Path) -> Format:
    """The format of a directory or file (blocking)."""
    if path.is_dir():
        return detect_directory(path)
    if not path.is_file():
        raise ImageError(f"cannot import {path}: no such file or directory")
    return detect_file(path)


def detect_directory(path: Path) -> Format:
    if (path / "oci-layout").is_file():
        return "oci-layout"
    if (path / "manifest.json").is_file():
        return "docker-archive"
    raise ImageError(
        f"cannot import {path}: a directory must be an OCI image layout (with an 'oci-layout' "
        "file) or an unpacked docker archive (with 'manifest.json')"
    )


def detect_file(path: Path) -> Format:
    """Classify a tar file by its top-level names (blocking)."""
    with (
        tempfile.TemporaryFile() as errors,
        decompressed(path, errors, str(path), check=False) as stream,
    ):
        try:
            with _open_tar(stream, path) as tar:
                return classify_names(member.name for member in tar)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise ImageError(
                f"cannot import {path}: it is not a tar archive (plain, gzip or zstd), an OCI "
                f"layout or a docker archive ({e})"
            ) from e


def classify_names(names: Iterable[str]) -> Format:
    seen: set[str] = set()
    for name in names:
        top = name.removeprefix("./").split("/", 1)[0]
        if top in ("", "."):
            continue
        if not _ARCHIVE_NAME.match(top):
            return "rootfs"
        seen.add(top)
    if {"oci-layout", "index.json"} <= seen:
        return "oci-layout"
    if "manifest.json" in seen:
        return "docker-archive"
    return "rootfs"


def extract_archive(path: Path, dest: Path) -> None:
    """Unpack an archive tar with the ``data`` filter (blocking)."""
    dest.mkdir(mode=0o700)
    with tempfile.TemporaryFile() as errors, decompressed(path, errors, str(path)) as stream:
        try:
            with _open_tar(stream, path) as tar:
                safetar.extract_all(tar, dest)
        except (tarfile.TarError, OSError) as e:
            raise ImageError(f"cannot unpack archive {path}: {e}") from e


async def import_rootfs(path: Path, ref: str, installer: Installer) -> ImageRecord:
    what = f"rootfs tarball {path}"
    blob_digest = await asyncio.to_thread(file_digest, path)
    blob_size = (await asyncio.to_thread(path.stat)).st_size
    work = installer.layers.new_tmp("rootfs")
    try:
        unpacked = await asyncio.to_thread(unpack_layer, path, work, None, what)
        await installer.layers.adopt(work, unpacked.diff_id, unpacked.size)
    finally:
        await asyncio.to_thread(remove_tree, work)
    layer = Descriptor(
        media_type=_OCI_LAYER_TYPE[sniff_compression(path)],
        digest=blob_digest,
        size=blob_size,
    )
    documents = single_layer_documents(
        layer,
        unpacked.diff_id,
        env=[DEFAULT_PATH],
        cmd=["/bin/sh"],
        labels={},
        created_by=f"roost image import {path.name}",
    )
    return await installer.install(ref, documents.manifest, MemorySource(documents.blobs), "rootfs")


async def _import_directory(
    path: Path, kind: Format, ref: str, name: str | None, installer: Installer
) -> ImageRecord:
    if kind == "oci-layout":
        return await import_oci_layout(path, ref, name, installer)
    return await import_docker_archive(path, ref, name, installer)


def _open_tar(stream: IO[bytes], path: Path) -> tarfile.TarFile:
    # A plain file can seek past member data; a decompressor's pipe must be streamed.
    if stream.seekable():
        return tarfile.open(fileobj=stream, mode="r:")
    return tarfile.open(fileobj=stream, mode="r|")
