"""The image store: what the runner asks for images, and the only door to the files below.

Layout under ``root``::

    blobs/sha256/<hex>      manifests and configs (layer blobs only until unpacked)  blobs.py
    blobs/tmp/              downloads in progress
    layers/<diff-id hex>/   one unpacked layer, shared by every image using it      layers.py
    layers/.meta/ .tmp/ .trash/
    images/<sha256(ref)>.json   one record per tag                                   records.py
    locks/                  flock files: store.lock, blob-<hex>.lock, layer-<hex>.lock
    tmp/                    scratch (archives being imported, build logs)

Concurrency: within a process coroutines queue on asyncio locks; across processes (the runner
and ``roost image pull``) on flock files. Pulls, imports and builds hold ``store.lock`` shared;
:meth:`ImageStore.gc` holds it exclusively, so it never deletes a layer that a pull has just
unpacked but not yet recorded. :meth:`get` takes no lock: records and layers appear atomically.

Removing an image only untags it. Layers go when :meth:`gc` finds no record using them; the
runner must not run ``gc`` while an environment still stacks layers of an untagged image (or
must keep that image tagged), since deleting a lowerdir under a mounted overlay is undefined.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from roost.runner.images import base
from roost.runner.images.blobs import BlobStore
from roost.runner.images.errors import ImageError
from roost.runner.images.image import DEFAULT_IMAGE, Image
from roost.runner.images.importer import import_path
from roost.runner.images.install import DEFAULT_PATH, Installer, single_layer_documents
from roost.runner.images.layers import LayerStore, remove_tree
from roost.runner.images.locks import KeyedLocks, file_lock
from roost.runner.images.oci import OCI_LAYER_TAR, Descriptor
from roost.runner.images.records import ImageRecord, all_records, read_record, record_path
from roost.runner.images.refs import LOCAL_REGISTRY, canonical_ref, format_ref, normalize_ref
from roost.runner.images.registry import RegistryClient
from roost.runner.images.sources import MemorySource, RegistrySource


@dataclass(frozen=True)
class Collected:
    """What :meth:`ImageStore.gc` removed."""

    layers: tuple[str, ...]
    blobs: int
    freed_bytes: int


class ImageStore:
    def __init__(
        self,
        root: Path,
        *,
        insecure_registries: Iterable[str] = (),
        credentials: Mapping[str, tuple[str, str]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (tests use ``httpx.MockTransport``)."""
        self.root = root
        self._insecure = frozenset(insecure_registries)
        self._credentials = dict(credentials or {})
        self._transport = transport
        self._images = root / "images"
        self._scratch = root / "tmp"
        self._lock_dir = root / "locks"
        locks = KeyedLocks(self._lock_dir)
        self.blobs = BlobStore(root, locks)
        self.layers = LayerStore(root, locks)
        self._installer = Installer(self.blobs, self.layers, self._images)
        for d in (
            self.blobs.directory,
            self.blobs.tmp,
            self._images,
            self._scratch,
            self._lock_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        self.layers.setup()

    async def get(self, ref: str) -> Image | None:
        """The image if it is in the store, complete; no network, no lock."""
        record = read_record(record_path(self._images, canonical_ref(ref)))
        return self._complete(record)

    async def ensure(self, ref: str) -> Image:
        return await self.get(ref) or await self.pull(ref)

    async def pull(self, ref: str) -> Image:
        """Ask the registry what the tag is now; download only the blobs not here yet."""
        host, repo, reference = normalize_ref(ref)
        name = format_ref(host, repo, reference)
        if host == LOCAL_REGISTRY:
            raise ImageError(_not_built(name))
        async with self._shared(), self._client() as client:
            source = RegistrySource(client, self.blobs, host, repo)
            manifest = await source.resolve(reference)
            record = await self._installer.install(name, manifest, source, "registry")
        return self._image(record)

    async def import_path(self, path: Path, ref: str, *, name: str | None = None) -> Image:
        """Import an OCI layout (directory or tar), a docker archive or a rootfs tarball.

        ``name`` picks one image of an archive that holds several (a tag or a full name)."""
        target = canonical_ref(ref)
        async with self._shared():
            record = await import_path(path, target, name, self._installer, self._scratch)
        return self._image(record)

    async def build_base(
        self,
        ref: str = DEFAULT_IMAGE,
        *,
        mirror: str | None = None,
        suite: str = "bookworm",
        packages: Sequence[str] = base.DEFAULT_PACKAGES,
        variant: str = "apt",
    ) -> Image:
        """Build a Debian image of one layer with mmdebstrap (root only; 20-60 s)."""
        target = canonical_ref(ref)
        async with self._shared():
            work = self.layers.new_tmp("build")
            log = self._scratch / f"{work.name}.log"
            try:
                tree = await base.build_tree(
                    work, suite=suite, mirror=mirror, packages=packages, variant=variant, log=log
                )
                await self.layers.adopt(tree.path, tree.diff_id, tree.size)
            finally:
                await asyncio.to_thread(remove_tree, work)
                log.unlink(missing_ok=True)
            layer = Descriptor(media_type=OCI_LAYER_TAR, digest=tree.diff_id, size=tree.size)
            documents = single_layer_documents(
                layer,
                tree.diff_id,
                env=[DEFAULT_PATH, "LANG=C.UTF-8"],
                cmd=["/bin/bash"],
                labels={
                    "org.roost.base": "1",
                    "org.roost.suite": suite,
                    "org.roost.variant": variant,
                    "org.roost.packages": ",".join(packages),
                },
                created_by=f"mmdebstrap --variant={variant} {suite}",
            )
            record = await self._installer.install(
                target, documents.manifest, MemorySource(documents.blobs), "mmdebstrap"
            )
        return self._image(record)

    def list(self) -> list[Image]:
        images = (self._complete(r) for r in all_records(self._images))
        return [i for i in images if i is not None]

    async def remove(self, ref: str) -> None:
        """Untag; the layers stay until :meth:`gc`."""
        name = canonical_ref(ref)
        path = record_path(self._images, name)
        if read_record(path) is None:
            raise ImageError(
                f"image '{name}' is not in the local store; list images to see what is"
            )
        path.unlink(missing_ok=True)

    async def gc(self) -> Collected:
        """Delete layers and blobs no image uses, and leftovers of crashed work."""
        async with file_lock(self._lock_dir / "store.lock"):
            records = all_records(self._images)
            used_layers = {layer.diff_id for r in records for layer in r.layers}
            used_blobs = {d for r in records for d in (r.digest, r.config_digest)}
            removed = [d for d in self.layers.diff_ids() if d not in used_layers]
            freed = 0
            for diff_id in removed:
                freed += self.layers.size(diff_id)
                await self.layers.remove(diff_id)
            blobs = await asyncio.to_thread(self._remove_blobs, used_blobs)
            await asyncio.to_thread(self._clean_scratch)
        return Collected(layers=tuple(removed), blobs=blobs, freed_bytes=freed)

    def _remove_blobs(self, used: set[str]) -> int:
        unused = [p for p in self.blobs.directory.iterdir() if f"sha256:{p.name}" not in used]
        for path in unused:
            path.unlink(missing_ok=True)
        return len(unused)

    def _clean_scratch(self) -> None:
        # We hold store.lock exclusively: nobody is downloading, unpacking or waiting on a lock.
        self.layers.clean_work_dirs()
        for directory in (self.blobs.tmp, self._scratch):
            for leftover in directory.iterdir():
                remove_tree(leftover)
        for lock in self._lock_dir.glob("*.lock"):
            if lock.name != "store.lock":
                lock.unlink(missing_ok=True)

    def _complete(self, record: ImageRecord | None) -> Image | None:
        if record is None:
            return None
        image = self._image(record)
        return image if all(p.is_dir() for p in image.layers) else None

    def _image(self, record: ImageRecord) -> Image:
        return record.to_image(self.layers.directory)

    @asynccontextmanager
    async def _shared(self) -> AsyncIterator[None]:
        async with file_lock(self._lock_dir / "store.lock", shared=True):
            yield

    def _client(self) -> RegistryClient:
        return RegistryClient(
            insecure_registries=self._insecure,
            credentials=self._credentials,
            transport=self._transport,
        )


def _not_built(name: str) -> str:
    hint = "build it with `roost image build-base`" if name == DEFAULT_IMAGE else "import it"
    return f"image '{name}' is made locally, not pulled, and is not in the store; {hint}"
