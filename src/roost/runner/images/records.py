"""Image records: ``images/<sha256 of the ref>.json``, one per tag in the local store.

A record names an image's manifest, config and layers (by diff id) and copies the config fields
callers need, so :meth:`ImageStore.get` reads one small file and no blob. The file name is a hash
of the normalized reference because references contain ``/`` and ``:`` and may be longer than a
file name may be; the record carries the reference itself.

Records are written to a temp file, fsync'ed and renamed, so a reader sees the old record or the
new one, never half of one; removing the record is what untags an image.
"""

import hashlib
import os
import secrets
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, ValidationError

from roost.runner.images.blobs import fsync_dir
from roost.runner.images.image import Image, ImageConfig
from roost.runner.images.oci import ImageConfigDocument


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayerRecord(_Record):
    diff_id: str
    size: int


class ConfigRecord(_Record):
    env: list[str] = []
    entrypoint: list[str] = []
    cmd: list[str] = []
    working_dir: str = ""
    user: str = ""
    labels: dict[str, str] = {}

    @classmethod
    def of(cls, document: ImageConfigDocument) -> "ConfigRecord":
        c = document.config
        if c is None:
            return cls()
        return cls(
            env=c.env or [],
            entrypoint=c.entrypoint or [],
            cmd=c.cmd or [],
            working_dir=c.working_dir or "",
            user=c.user or "",
            labels=c.labels or {},
        )


class ImageRecord(_Record):
    version: int = 1
    ref: str
    digest: str
    config_digest: str
    source: str
    """Where it came from: ``registry``, ``oci-layout``, ``docker-archive``, ``rootfs``,
    ``mmdebstrap``."""
    created_at: datetime
    layers: list[LayerRecord]
    config: ConfigRecord

    def to_image(self, layers_dir: Path) -> Image:
        c = self.config
        config = ImageConfig(
            env=tuple(c.env),
            entrypoint=tuple(c.entrypoint),
            cmd=tuple(c.cmd),
            working_dir=c.working_dir,
            user=c.user,
            labels=MappingProxyType(dict(c.labels)),
        )
        return Image(
            ref=self.ref,
            digest=self.digest,
            layers=tuple(
                layers_dir / layer.diff_id.removeprefix("sha256:") for layer in self.layers
            ),
            config=config,
            size=sum(layer.size for layer in self.layers),
        )


def record_path(images_dir: Path, ref: str) -> Path:
    return images_dir / f"{hashlib.sha256(ref.encode()).hexdigest()}.json"


def read_record(path: Path) -> ImageRecord | None:
    """The record at ``path``, or None if it is missing or unreadable (treated as not cached)."""
    try:
        return ImageRecord.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def write_record(images_dir: Path, record: ImageRecord) -> None:
    """Atomically replace the record of ``record.ref`` (blocking: small file, fsync'ed)."""
    path = record_path(images_dir, record.ref)
    tmp = images_dir / f".{path.name}.{secrets.token_hex(4)}"
    try:
        with tmp.open("wb") as f:
            f.write(record.model_dump_json(indent=2).encode())
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(images_dir)


def all_records(images_dir: Path) -> list[ImageRecord]:
    records = (read_record(p) for p in sorted(images_dir.glob("[!.]*.json")))
    return sorted((r for r in records if r is not None), key=lambda r: r.ref)
