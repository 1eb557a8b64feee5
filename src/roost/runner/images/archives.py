"""Images in files: OCI image layouts and docker archives, as directories.

* An **OCI image layout** (``skopeo copy ... oci:DIR``, ``umoci``, ``docker save`` since 25) is
  ``oci-layout`` + ``index.json`` + ``blobs/sha256/<hex>``: a registry on disk. Its index names
  one or more manifests (``org.opencontainers.image.ref.name`` gives their tags).
* A **docker archive** (``docker save`` before 25, ``skopeo copy ... docker-archive:``) is
  ``manifest.json``: a list of ``{Config, RepoTags, Layers}`` with paths to a config and to
  layer tars. It has no manifest in the registry sense, so we write one: the image's digest is
  that of the manifest we write, and is stable for the same archive.

Archives in tar files are unpacked into a scratch directory first (see ``importer.py``). Both
readers locate blobs through paths that come from the archive, so every path is resolved and
checked to stay inside it.
"""

import asyncio
import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roost.runner.images.blobs import file_digest
from roost.runner.images.errors import ImageError
from roost.runner.images.install import Installer
from roost.runner.images.oci import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    IMAGE_NAME_ANNOTATION,
    INDEX_TYPES,
    OCI_LAYER_ZSTD,
    REF_NAME_ANNOTATION,
    Descriptor,
    host_platform,
    media_type_of,
    parse_index,
    select_platform,
)
from roost.runner.images.records import ImageRecord
from roost.runner.images.refs import canonical_ref, check_digest, normalize_ref
from roost.runner.images.registry import FetchedManifest
from roost.runner.images.sources import FileSource
from roost.runner.images.unpack import sniff_compression

_DOCKER_LAYER = {
    "none": "application/vnd.docker.image.rootfs.diff.tar",
    "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "zstd": OCI_LAYER_ZSTD,
}


async def import_oci_layout(
    layout: Path, ref: str, name: str | None, installer: Installer
) -> ImageRecord:
    what = f"OCI layout {layout}"
    index_bytes = await asyncio.to_thread(_read, layout / "index.json", what)
    index = parse_index(index_bytes, f"index.json of {what}")
    names = [_oci_name(d) for d in index.manifests]
    chosen = index.manifests[_choose(names, ref, name, what)]
    source = FileSource(lambda digest: layout / "blobs" / "sha256" / check_digest(digest, what))
    body = await source.read_blob(chosen, f"manifest {chosen.digest} in {what}")
    if chosen.media_type in INDEX_TYPES or media_type_of(body, "") in INDEX_TYPES:
        nested = parse_index(body, f"index {chosen.digest} in {what}")
        chosen = select_platform(nested, host_platform(), f"index {chosen.digest} in {what}")
        body = await source.read_blob(chosen, f"manifest {chosen.digest} in {what}")
    manifest = FetchedManifest(chosen.digest, media_type_of(body, chosen.media_type), body)
    return await installer.install(ref, manifest, source, "oci-layout")


class _ArchiveEntry(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    config: str = Field(alias="Config")
    repo_tags: list[str] | None = Field(default=None, alias="RepoTags")
    layers: list[str] = Field(alias="Layers")


async def import_docker_archive(
    archive: Path, ref: str, name: str | None, installer: Installer
) -> ImageRecord:
    what = f"docker archive {archive}"
    entries = _parse_entries(await asyncio.to_thread(_read, archive / "manifest.json", what), what)
    names = [" ".join(e.repo_tags or []) for e in entries]
    entry = entries[_choose(names, ref, name, what)]
    config_path = _inside(archive, entry.config, what)
    config = await asyncio.to_thread(_read, config_path, what)
    layer_paths = [_inside(archive, p, what) for p in entry.layers]
    digests = await asyncio.gather(*(asyncio.to_thread(file_digest, p) for p in layer_paths))
    located = dict(zip(digests, layer_paths, strict=True))
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    located[config_digest] = config_path
    layers = [
        {
            "mediaType": _DOCKER_LAYER[sniff_compression(p)],
            "digest": d,
            "size": p.stat().st_size,
        }
        for p, d in zip(layer_paths, digests, strict=True)
    ]
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": layers,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    manifest = FetchedManifest("sha256:" + hashlib.sha256(body).hexdigest(), DOCKER_MANIFEST, body)
    # The layer files were just hashed to name them: no need to hash them again.
    source = FileSource(lambda digest: located[digest], verify=False)
    return await installer.install(ref, manifest, source, "docker-archive")


def _parse_entries(data: bytes, what: str) -> list[_ArchiveEntry]:
    try:
        raw = json.loads(data)
        entries = [_ArchiveEntry.model_validate(e) for e in raw]
    except (ValueError, TypeError, ValidationError) as e:
        raise ImageError(f"manifest.json of {what} is not a docker archive manifest: {e}") from e
    if not entries:
        raise ImageError(f"{what} holds no image")
    return entries


def _oci_name(desc: Descriptor) -> str:
    annotations = desc.annotations or {}
    return " ".join(
        v
        for v in (annotations.get(IMAGE_NAME_ANNOTATION), annotations.get(REF_NAME_ANNOTATION))
        if v
    )


def _choose(names: list[str], ref: str, name: str | None, what: str) -> int:
    """Which image of an archive to import: the one ``name`` picks (a tag or a full name), else
    the only one, else the one named like ``ref``."""
    wanted = [name] if name is not None else [ref, normalize_ref(ref)[2]]
    if name is None and len(names) == 1:
        return 0
    for i, names_of_image in enumerate(names):
        for candidate in names_of_image.split():
            if any(_same(candidate, w) for w in wanted):
                return i
    offered = ", ".join(n or "(unnamed)" for n in names)
    raise ImageError(
        f"{what} holds {len(names)} images ({offered}) and none is named "
        f"'{name or ref}'; say which one to import"
    )


def _same(candidate: str, wanted: str) -> bool:
    if candidate == wanted:
        return True
    try:
        return canonical_ref(candidate) == canonical_ref(wanted)
    except ImageError:
        return False


def _inside(root: Path, relative: str, what: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ImageError(f"{what} refers to '{relative}', which is outside the archive")
    return path


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read {path.name} of {what}: {e.strerror}") from e
