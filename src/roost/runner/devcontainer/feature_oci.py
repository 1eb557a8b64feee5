"""Features from OCI registries (containers.dev/implementors/features-distribution).

A published feature is an OCI artifact: a manifest whose config has media type
``application/vnd.devcontainers`` and whose single layer
(``application/vnd.devcontainers.layer.v1+tar``) is a tar of the feature's folder --
``devcontainer-feature.json``, ``install.sh`` and whatever else it ships. It travels through the
image store's registry client (:class:`~roost.runner.images.registry.RegistryClient`: bearer and
basic auth, plain HTTP for loopback and insecure registries, manifest digests checked, a
registry that is down is an ``ImageUnavailable``, i.e. retried); the layer's digest is checked
here as it streams in.

Unpacked folders are cached by manifest digest under ``cache/<hex>/``: a tag is asked for on
every build (it may have moved), the layer is downloaded once.
"""

import hashlib
import json
import secrets
import shutil
import tarfile
from pathlib import Path

from roost.core.errors import PermanentError
from roost.runner.images import ImageError, safetar
from roost.runner.images.refs import normalize_ref
from roost.runner.images.registry import RegistryClient

FEATURE_LAYER = "application/vnd.devcontainers.layer.v1+tar"
MAX_FEATURE_BYTES = 64 << 20


class FeatureError(PermanentError):
    code = "feature_error"


async def fetch(client: RegistryClient, user_id: str, cache: Path) -> tuple[Path, str, str]:
    """Download (or find cached) the feature ``user_id``; return (folder, resource, digest).

    ``resource`` is ``registry/repository`` without tag: what ``installsAfter`` and
    ``overrideFeatureInstallOrder`` refer to."""
    try:
        host, repo, reference = normalize_ref(user_id)
    except ImageError as exc:
        raise FeatureError(f"feature '{user_id}' is not a valid reference: {exc.message}") from None
    try:
        fetched = await client.fetch_manifest(host, repo, reference)
    except ImageError as exc:
        raise FeatureError(f"feature '{user_id}': {exc.message}") from None
    folder = cache / fetched.digest.removeprefix("sha256:")
    if not (folder / "devcontainer-feature.json").is_file():
        layer = _feature_layer(fetched.body, user_id)
        await _download(client, host, repo, layer, folder, user_id)
    return folder, f"{host}/{repo}", fetched.digest


def _feature_layer(body: bytes, user_id: str) -> dict[str, object]:
    try:
        layers = json.loads(body)["layers"]
        layer = next(x for x in layers if x.get("mediaType") == FEATURE_LAYER)
    except (ValueError, KeyError, TypeError, StopIteration):
        raise FeatureError(
            f"'{user_id}' is not a devcontainer feature (its manifest has no {FEATURE_LAYER} layer)"
        ) from None
    if int(layer.get("size", 0)) > MAX_FEATURE_BYTES:
        raise FeatureError(f"feature '{user_id}' is larger than {MAX_FEATURE_BYTES} bytes")
    return dict(layer)


async def _download(
    client: RegistryClient, host: str, repo: str, layer: dict[str, object], folder: Path,
    user_id: str,
) -> None:  # fmt: skip
    digest = str(layer["digest"])
    tmp = folder.parent / f".{folder.name}.{secrets.token_hex(4)}"
    tmp.mkdir(parents=True)
    blob = tmp.with_suffix(".tar")
    try:
        hasher = hashlib.sha256()
        with blob.open("wb") as out:
            async with client.blob(host, repo, digest) as chunks:
                async for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
                    if out.tell() > MAX_FEATURE_BYTES:
                        raise FeatureError(f"feature '{user_id}' is too large")
        if "sha256:" + hasher.hexdigest() != digest:
            raise FeatureError(f"feature '{user_id}': its layer does not match its digest")
        _extract(blob, tmp, user_id)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        blob.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _extract(blob: Path, dest: Path, user_id: str) -> None:
    """The ``data`` filter: no absolute paths, no ``..``, no links out, no devices."""
    try:
        with tarfile.open(blob) as tar:
            safetar.extract_all(tar, dest)
    except (tarfile.TarError, OSError) as exc:
        raise FeatureError(f"feature '{user_id}': its layer is not a valid tar ({exc})") from None
    if not (dest / "devcontainer-feature.json").is_file():
        raise FeatureError(f"feature '{user_id}' has no devcontainer-feature.json")
