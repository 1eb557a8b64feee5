"""The OCI image layout through which Roost's image store and buildah hand each other images.

Roost's store keeps layers unpacked (``layers/<diff id>/``) and drops blobs; buildah has its own
storage. One OCI layout per runner, ``layout/``, sits between them:

* **Roost to buildah** (:meth:`Exchange.export`): every layer of a store image is packed into an
  uncompressed tar (:mod:`.layertar`) -- once: the packed diff id is remembered -- with a config
  that is the store's own but for the new diff ids (and a history buildah accepts), tagged
  ``roost-<image digest>``. buildah pulls it from there.
* **buildah to Roost** (:meth:`Exchange.import_image`): buildah pushes a built image into the
  same layout. Its base layers are the tars exported above; they are already in the layout, so
  the push skips them (0.2 s instead of 5 s of gzip for the Debian base). The config's diff ids
  of those layers are mapped back to the store's own (``diffmap.json``), so the store, which
  dedupes layers by diff id, gets only the new layers: the base is stored once, not once per
  build. The rewritten image is imported with the store's ordinary OCI-layout import.

Blobs of pushed images are deleted once imported; exported base layers stay (they are what
makes the next push fast). Callers serialise access (one lock per runner).
"""

import asyncio
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roost.runner.devcontainer.layertar import write_layer_tar
from roost.runner.images import Image, ImageError, ImageStore
from roost.runner.images.oci import OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST, REF_NAME_ANNOTATION

EXPORT_PREFIX = "roost-"


class Exchange:
    def __init__(self, directory: Path, store: ImageStore, give: Callable[[Path], None]) -> None:
        self.dir = directory
        self.blobs = directory / "blobs" / "sha256"
        self.store = store
        self._give = give
        """Hands files the runner wrote to the build user (buildah writes here too)."""
        self._map_path = directory.parent / "diffmap.json"

    def setup(self) -> None:
        self.blobs.mkdir(parents=True, exist_ok=True)
        if not (self.dir / "oci-layout").exists():
            (self.dir / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        if not (self.dir / "index.json").exists():
            self._write_index([])
        self._give(self.dir)
        stale = {_tag_of(m) for m in self._index() if not _tag_of(m).startswith(EXPORT_PREFIX)}
        self._drop_tags(stale)  # pushes and imports a crash interrupted

    # --- Roost to buildah -------------------------------------------------------------------

    async def export(self, image: Image) -> str:
        """Put ``image`` into the layout; return its tag there."""
        tag = EXPORT_PREFIX + image.digest.removeprefix("sha256:")
        if any(_tag_of(m) == tag for m in self._index()):
            return tag
        manifest = json.loads(self.store.blobs.read(image.digest))
        config = json.loads(self.store.blobs.read(manifest["config"]["digest"]))
        packed = [await self._pack(layer) for layer in image.layers]
        config["rootfs"] = {"type": "layers", "diff_ids": [d for d, _ in packed]}
        config["history"] = _history(config.get("history"), len(packed))
        layers = [{"mediaType": OCI_LAYER_TAR, "digest": d, "size": s} for d, s in packed]
        self._add_image(tag, config, layers)
        return tag

    async def _pack(self, layer: Path) -> tuple[str, int]:
        store_diff = "sha256:" + layer.name
        known = {v: k for k, v in self._diffmap().items()}.get(store_diff)
        if known and self._blob(known).is_file():
            return known, self._blob(known).stat().st_size
        tmp = self.blobs.parent / f"pack.{secrets.token_hex(4)}"
        try:
            diff, size = await asyncio.to_thread(write_layer_tar, layer, tmp)
            os.replace(tmp, self._blob(diff))
        finally:
            tmp.unlink(missing_ok=True)
        self._give(self._blob(diff))
        self._save_diffmap({**self._diffmap(), diff: store_diff})
        return diff, size

    # --- buildah to Roost -------------------------------------------------------------------

    async def import_image(self, pushed_tag: str, ref: str) -> Image:
        """Import what buildah pushed as ``pushed_tag`` into the store as ``ref``."""
        entry = next((m for m in self._index() if _tag_of(m) == pushed_tag), None)
        if entry is None:
            raise ImageError(f"buildah pushed nothing tagged {pushed_tag} into {self.dir}")
        manifest = json.loads(self._blob(entry["digest"]).read_bytes())
        config = json.loads(self._blob(manifest["config"]["digest"]).read_bytes())
        mapping = self._diffmap()
        config["rootfs"]["diff_ids"] = [
            mapping[d] if d in mapping and self.store.layers.has(mapping[d]) else d
            for d in config["rootfs"]["diff_ids"]
        ]
        import_tag = "import-" + secrets.token_hex(6)
        self._add_image(import_tag, config, manifest["layers"])
        try:
            return await self.store.import_path(self.dir, ref, name=import_tag)
        finally:
            self._drop_tags({pushed_tag, import_tag})

    # --- the layout -------------------------------------------------------------------------

    def _add_image(self, tag: str, config: dict[str, Any], layers: list[dict[str, Any]]) -> None:
        config_digest, config_size = self._put(config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": layers,
        }
        digest, size = self._put(manifest)
        entry = {"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                 "annotations": {REF_NAME_ANNOTATION: tag}}  # fmt: skip
        self._write_index([*(m for m in self._index() if _tag_of(m) != tag), entry])

    def _put(self, document: dict[str, Any]) -> tuple[str, int]:
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self._blob(digest)
        if not path.exists():
            _atomic_write(path, data)
            self._give(path)
        return digest, len(data)

    def _drop_tags(self, tags: set[str]) -> None:
        """Forget these images and delete every blob no remaining image uses."""
        kept = [m for m in self._index() if _tag_of(m) not in tags]
        self._write_index(kept)
        used = set()
        for entry in kept:
            used.add(entry["digest"])
            manifest = json.loads(self._blob(entry["digest"]).read_bytes())
            used.add(manifest["config"]["digest"])
            used.update(layer["digest"] for layer in manifest["layers"])
        for path in self.blobs.iterdir():
            if f"sha256:{path.name}" not in used:
                path.unlink(missing_ok=True)

    def _index(self) -> list[dict[str, Any]]:
        doc = json.loads((self.dir / "index.json").read_bytes())
        return list(doc.get("manifests") or [])

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        doc = {"schemaVersion": 2, "manifests": manifests}
        _atomic_write(self.dir / "index.json", json.dumps(doc).encode())
        self._give(self.dir / "index.json")

    def _blob(self, digest: str) -> Path:
        return self.blobs / digest.removeprefix("sha256:")

    def _diffmap(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._map_path.read_bytes()))
        except (OSError, ValueError):
            return {}

    def _save_diffmap(self, mapping: dict[str, str]) -> None:
        _atomic_write(self._map_path, json.dumps(mapping, sort_keys=True).encode())


def _tag_of(entry: dict[str, Any]) -> str:
    return str((entry.get("annotations") or {}).get(REF_NAME_ANNOTATION, ""))


def _history(history: Any, layer_count: int) -> list[dict[str, Any]]:
    """The image's history if it accounts for every layer (buildah checks), else one entry
    per layer."""
    entries = [h for h in history or [] if isinstance(h, dict)]
    if sum(1 for h in entries if not h.get("empty_layer")) == layer_count:
        return entries
    return [{"created_by": "roost: layer of an image in the runner's store"}] * layer_count


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
