"""What callers get: an :class:`Image` is a stack of unpacked layer directories plus the config
the container starts with. Small frozen values; the store owns the files they point to."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

DEFAULT_IMAGE = "roost.local/base:bookworm"
"""What ``build_base`` produces by default and what environments use when they name no image."""


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an OCI image config that decide how a container starts."""

    env: tuple[str, ...] = ()
    """``KEY=VALUE`` strings, in order."""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """E.g. ``devcontainer.metadata``; read-only."""


@dataclass(frozen=True)
class Image:
    ref: str
    """Normalized reference, e.g. ``localhost:5000/busybox:latest``."""
    digest: str
    """Digest of the (platform-specific) manifest, ``sha256:...``."""
    layers: tuple[Path, ...]
    """Unpacked layer directories, BOTTOM first (overlay's lowerdir wants top first: reverse)."""
    config: ImageConfig
    size: int
    """Bytes of the unpacked layers (their uncompressed tar size, a close estimate)."""
