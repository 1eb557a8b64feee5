"""The OCI and docker documents an image is made of, parsed strictly enough to trust.

An image is a tree of content-addressed documents::

    index (multi-arch, optional)  ->  manifest  ->  config  (env, cmd, labels, diff_ids)
                                               ->  layers  (tar, gzip or zstd)

Docker's schema2 documents have the same shape under other media types, so both parse into the
same models. Everything here comes from a registry or a file we do not control: documents are
validated with pydantic and failures become :class:`ImageError` naming what was wrong; digests
must be sha256 (they become file names); unknown media types are refused rather than guessed.

A layer's *digest* is that of the (possibly compressed) blob; its *diff id* (in the config) is
the digest of the uncompressed tar. Layers are unpacked once per diff id, so the same layer
shipped gzip'ed by one registry and zstd'ed by another is stored once.
"""

import platform
from typing import Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roost.runner.images.errors import ImageError

OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
OCI_LAYER_TAR: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"

INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES: Final = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES: Final = frozenset(
    {
        OCI_LAYER_TAR,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)
ACCEPT_MANIFESTS: Final = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
DIGEST_PATTERN: Final = r"^sha256:[0-9a-f]{64}$"
_T = TypeVar("_T", bound=BaseModel)
REF_NAME_ANNOTATION: Final = "org.opencontainers.image.ref.name"
IMAGE_NAME_ANNOTATION: Final = "io.containerd.image.name"


class _Document(BaseModel):
    # Registries add fields over time; ignoring unknown ones is what every client does.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Platform(_Document):
    os: str = ""
    architecture: str = ""
    variant: str = ""


class Descriptor(_Document):
    media_type: str = Field(default="", alias="mediaType")
    digest: str = Field(pattern=DIGEST_PATTERN)
    size: int = Field(ge=0)
    platform: Platform | None = None
    annotations: dict[str, str] | None = None


class Index(_Document):
    schema_version: int = Field(alias="schemaVersion")
    media_type: str = Field(default="", alias="mediaType")
    manifests: list[Descriptor]


class Manifest(_Document):
    schema_version: int = Field(alias="schemaVersion")
    media_type: str = Field(default="", alias="mediaType")
    config: Descriptor
    layers: list[Descriptor]


class ContainerConfig(_Document):
    env: list[str] | None = Field(default=None, alias="Env")
    entrypoint: list[str] | None = Field(default=None, alias="Entrypoint")
    cmd: list[str] | None = Field(default=None, alias="Cmd")
    working_dir: str | None = Field(default=None, alias="WorkingDir")
    user: str | None = Field(default=None, alias="User")
    labels: dict[str, str] | None = Field(default=None, alias="Labels")


class RootFS(_Document):
    type: str
    diff_ids: list[str]


class ImageConfigDocument(_Document):
    architecture: str = ""
    os: str = ""
    config: ContainerConfig | None = None
    rootfs: RootFS


def media_type_of(body: bytes, declared: str) -> str:
    """The media type of a manifest-like document: the declared one, else guessed from keys.

    OCI allows omitting ``mediaType`` in the body, and some servers send a generic
    Content-Type, so a body with ``manifests`` is an index and one with ``layers`` a manifest.
    """
    declared = declared.split(";", maxsplit=1)[0].strip()
    if declared in INDEX_TYPES or declared in MANIFEST_TYPES:
        return declared
    probe = _parse(_Probe, body, "manifest")
    if probe.media_type:
        return probe.media_type
    if probe.manifests is not None:
        return OCI_INDEX
    if probe.layers is not None:
        return OCI_MANIFEST
    return declared or "unknown"


class _Probe(_Document):
    media_type: str = Field(default="", alias="mediaType")
    manifests: list[object] | None = None
    layers: list[object] | None = None


def parse_index(body: bytes, what: str) -> Index:
    return _parse(Index, body, what)


def parse_manifest(body: bytes, what: str) -> Manifest:
    manifest = _parse(Manifest, body, what)
    if manifest.schema_version != 2:
        raise ImageError(f"{what} has schemaVersion {manifest.schema_version}; only 2 is supported")
    if manifest.config.media_type and manifest.config.media_type not in CONFIG_TYPES:
        raise ImageError(
            f"{what} is not a container image (config media type '{manifest.config.media_type}')"
        )
    for layer in manifest.layers:
        if layer.media_type not in LAYER_TYPES:
            raise ImageError(f"{what} has a layer of unsupported media type '{layer.media_type}'")
    return manifest


def parse_config(body: bytes, what: str, layer_count: int) -> ImageConfigDocument:
    config = _parse(ImageConfigDocument, body, what)
    if len(config.rootfs.diff_ids) != layer_count:
        raise ImageError(
            f"{what} lists {len(config.rootfs.diff_ids)} diff ids for {layer_count} layers"
        )
    return config


def _parse(model: type[_T], body: bytes, what: str) -> _T:
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise ImageError(f"{what} is not a valid {model.__name__}: {where}: {first['msg']}") from e


_GOARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i686": ("386", ""),
    "i386": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


def host_platform() -> Platform:
    """This machine as an OCI platform (GOARCH names: amd64 for x86_64, arm64 for aarch64)."""
    machine = platform.machine().lower()
    arch, variant = _GOARCH.get(machine, (machine, ""))
    return Platform(os="linux", architecture=arch, variant=variant)


def select_platform(index: Index, want: Platform, what: str) -> Descriptor:
    """The entry of a multi-arch index for ``want``: same os and architecture; an exact variant
    first, then one without a variant (arm64 images often omit ``v8``)."""
    candidates = [
        d
        for d in index.manifests
        if d.platform is not None
        and d.platform.os == want.os
        and d.platform.architecture == want.architecture
    ]
    for desc in candidates:
        if desc.platform is not None and desc.platform.variant == want.variant:
            return desc
    for desc in candidates:
        if desc.platform is not None and not desc.platform.variant:
            return desc
    offered = sorted(
        {
            "/".join(p for p in (d.platform.os, d.platform.architecture, d.platform.variant) if p)
            for d in index.manifests
            if d.platform is not None
        }
    )
    wanted = "/".join(p for p in (want.os, want.architecture, want.variant) if p)
    raise ImageError(
        f"{what} has no image for {wanted} (it offers: {', '.join(offered) or 'none'})"
    )
