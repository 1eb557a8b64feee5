"""Helpers for builder tests: repositories on disk, a builder, feature artifacts in a registry.

``make_repo`` writes files the way a clone leaves them in a workspace (owned by the workspace
ids), ``resolve`` reads its devcontainer.json like the devcontainer step, and ``push_feature``
publishes a feature folder as an OCI artifact with the distribution API (blob uploads and a
manifest PUT), since skopeo refuses artifacts that are not images.
"""

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path

import httpx

from roost.core.devcontainer import readconf
from roost.runner.devcontainer.feature_oci import FEATURE_LAYER
from roost.runner.idalloc import WORKSPACE_ID_BASE
from roost.runner.images.oci import OCI_MANIFEST


def make_repo(root: Path, files: Mapping[str, str]) -> Path:
    (root / ".git").mkdir(parents=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel.endswith(".sh"):
            path.chmod(0o755)
    for top, _dirs, names in os.walk(root):
        os.chown(top, WORKSPACE_ID_BASE, WORKSPACE_ID_BASE)
        for name in names:
            os.chown(os.path.join(top, name), WORKSPACE_ID_BASE, WORKSPACE_ID_BASE)
    return root


def resolve(repo: Path, path: str = ".devcontainer/devcontainer.json") -> readconf.Resolved:
    return readconf.resolve(repo / path, repo, local_env={})


def feature_files(
    name: str, install: str, *, options: Mapping[str, object] | None = None, **metadata: object
) -> dict[str, str]:
    """The files of a feature folder called ``name`` (relative paths)."""
    doc = {"id": name, "version": "1.0.0", "options": dict(options or {}), **metadata}
    return {
        f"{name}/devcontainer-feature.json": json.dumps(doc),
        f"{name}/install.sh": "#!/bin/sh\nset -e\n" + install,
    }


async def push_feature(registry_url: str, repo: str, tag: str, files: Mapping[str, str]) -> str:
    """Publish a feature (``files`` relative to its folder); return the manifest digest."""
    layer = _tar(files)
    config = b"{}"
    async with httpx.AsyncClient(base_url=registry_url) as client:
        for blob in (layer, config):
            await _upload(client, repo, blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.devcontainers", "digest": _digest(config),
                       "size": len(config)},
            "layers": [{"mediaType": FEATURE_LAYER, "digest": _digest(layer), "size": len(layer)}],
        }  # fmt: skip
        body = json.dumps(manifest).encode()
        r = await client.put(f"/v2/{repo}/manifests/{tag}", content=body,
                             headers={"Content-Type": OCI_MANIFEST})  # fmt: skip
        assert r.status_code == 201, r.text
    return _digest(body)


async def _upload(client: httpx.AsyncClient, repo: str, blob: bytes) -> None:
    r = await client.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    sep = "&" if "?" in location else "?"
    r = await client.put(f"{location}{sep}digest={_digest(blob)}", content=blob,
                         headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert r.status_code == 201, r.text


def _tar(files: Mapping[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
