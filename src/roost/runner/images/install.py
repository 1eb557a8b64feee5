"""Installing an image: from a manifest and a source to layers on disk and a record.

Pull, import and build all end here::

    manifest --parse--> config blob --parse--> for each layer: unpacked? else fetch + unpack
                                               --> record (atomically replaces the tag)

Up to ``LAYER_CONCURRENCY`` layers are fetched and unpacked at once: downloads overlap with
unpacking, and more would only compete for the two cores and the disk. The record is written
last, so a tag points to an image only when all its layers are in place.

Locally made images (a rootfs tarball, an mmdebstrap tree) have no manifest or config of their
own; :func:`single_layer_documents` writes them, so every image in the store looks the same.
"""

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from roost.core.clock import utcnow
from roost.runner.images.blobs import BlobStore
from roost.runner.images.layers import LayerStore
from roost.runner.images.oci import (
    OCI_CONFIG,
    OCI_MANIFEST,
    Descriptor,
    host_platform,
    parse_config,
    parse_manifest,
)
from roost.runner.images.records import ConfigRecord, ImageRecord, LayerRecord, write_record
from roost.runner.images.registry import FetchedManifest
from roost.runner.images.sources import ImageSource

LAYER_CONCURRENCY = 3
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Installer:
    blobs: BlobStore
    layers: LayerStore
    images_dir: Path

    async def install(
        self, ref: str, manifest: FetchedManifest, source: ImageSource, origin: str
    ) -> ImageRecord:
        parsed = parse_manifest(manifest.body, f"manifest of {ref}")
        await self.blobs.put(manifest.body)
        config_what = f"config of {ref}"
        config_bytes = await source.read_blob(parsed.config, config_what)
        config = parse_config(config_bytes, config_what, len(parsed.layers))
        config_digest = await self.blobs.put(config_bytes)
        sizes = await self._layers(ref, parsed.layers, config.rootfs.diff_ids, source)
        record = ImageRecord(
            ref=ref,
            digest=manifest.digest,
            config_digest=config_digest,
            source=origin,
            created_at=utcnow(),
            layers=[
                LayerRecord(diff_id=d, size=s)
                for d, s in zip(config.rootfs.diff_ids, sizes, strict=True)
            ],
            config=ConfigRecord.of(config),
        )
        await asyncio.to_thread(write_record, self.images_dir, record)
        return record

    async def _layers(
        self, ref: str, layers: Sequence[Descriptor], diff_ids: Sequence[str], source: ImageSource
    ) -> list[int]:
        limit = asyncio.Semaphore(LAYER_CONCURRENCY)

        async def one(index: int, desc: Descriptor, diff_id: str) -> int:
            what = f"layer {index + 1}/{len(layers)} ({desc.digest[:19]}) of {ref}"
            async with limit:
                return await self.layers.ensure(
                    diff_id, lambda: source.layer_blob(desc, what), what
                )

        return await run_all(
            [one(i, d, diff) for i, (d, diff) in enumerate(zip(layers, diff_ids, strict=True))]
        )


async def run_all(coroutines: Sequence[Awaitable[_T]]) -> list[_T]:
    """Run concurrently; on the first failure cancel the rest and raise that failure itself
    (not an ExceptionGroup: callers catch ImageError and ImageUnavailable)."""

    async def wrap(aw: Awaitable[_T]) -> _T:
        return await aw

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(wrap(c)) for c in coroutines]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [t.result() for t in tasks]


@dataclass(frozen=True)
class Documents:
    manifest: FetchedManifest
    blobs: Mapping[str, bytes]
    """The config, by digest, for a MemorySource."""


def single_layer_documents(
    layer: Descriptor,
    diff_id: str,
    *,
    env: Sequence[str],
    cmd: Sequence[str],
    labels: Mapping[str, str],
    created_by: str,
) -> Documents:
    """An OCI config and manifest for an image of one layer made here."""
    created = utcnow().isoformat()
    config = {
        "architecture": host_platform().architecture,
        "os": "linux",
        "created": created,
        "config": {"Env": list(env), "Cmd": list(cmd), "Labels": dict(labels)},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": created_by}],
    }
    config_bytes = _canonical(config)
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [layer.model_dump(by_alias=True, exclude_none=True)],
    }
    body = _canonical(manifest)
    fetched = FetchedManifest(
        digest="sha256:" + hashlib.sha256(body).hexdigest(), media_type=OCI_MANIFEST, body=body
    )
    return Documents(manifest=fetched, blobs={config_digest: config_bytes})


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
