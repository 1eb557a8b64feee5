"""Importing from files, with archives written by hand here (umoci and skopeo are exercised by
the root-marked integration tests)."""

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from roost.runner.images import ImageError, ImageStore
from roost.runner.images.importer import classify_names
from tests.runner.images.fakes import (
    OCI_INDEX,
    OCI_MANIFEST,
    TarBuilder,
    config_for,
    digest_of,
    gzip_layer,
    manifest_for,
)

ROOTFS_TAR = (
    TarBuilder()
    .dir("./")
    .file("./bin/sh", b"#!", mode=0o755)
    .file("./etc/hostname", b"box\n")
    .bytes()
)
LAYER = gzip_layer(TarBuilder().file("etc/os-release", b"ID=test\n").bytes())


def oci_layout(root: Path, tags: tuple[str, ...] = ("latest",)) -> Path:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    config = config_for([LAYER], Cmd=["/bin/app"])
    manifest = manifest_for(config, [LAYER])
    for blob in (config, manifest, LAYER.blob):
        (blobs / digest_of(blob)[7:]).write_bytes(blob)
    entries = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(manifest),
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
        for tag in tags
    ]
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    )
    return root


LEGACY_DIR = "e" * 64  # docker save (before 25) names layer directories by id


def docker_archive(root: Path, layers_path: str = f"{LEGACY_DIR}/layer.tar") -> Path:
    root.mkdir()
    config = config_for([LAYER], Cmd=["/bin/app"])
    (root / "cfg.json").write_bytes(config)
    (root / LEGACY_DIR).mkdir()
    (root / LEGACY_DIR / "layer.tar").write_bytes(LAYER.tar)
    manifest = [{"Config": "cfg.json", "RepoTags": ["example/app:1"], "Layers": [layers_path]}]
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def tar_of(directory: Path, dest: Path) -> Path:
    subprocess.run(["tar", "-c", "-f", str(dest), "-C", str(directory), "."], check=True)
    return dest


def rootfs_file(directory: Path, compression: str) -> Path:
    """The rootfs tarball, compressed or not, under a name that says nothing of its format."""
    path = directory / "rootfs.tar"
    path.write_bytes(ROOTFS_TAR)
    if compression:
        subprocess.run([compression, "-q", str(path)], check=True)
        path = next(directory.glob("rootfs.tar.*"))
    return path.rename(directory / "no-extension-needed")


@pytest.mark.parametrize("compression", ["", "gzip", "zstd"])
async def test_rootfs_tarball(tmp_path: Path, store: ImageStore, compression: str) -> None:
    image = await store.import_path(rootfs_file(tmp_path, compression), "roost.local/box:1")
    assert image.ref == "roost.local/box:1"
    assert image.config.cmd == ("/bin/sh",)
    assert image.config.env[0].startswith("PATH=")
    assert len(image.layers) == 1
    assert image.layers[0].name == digest_of(ROOTFS_TAR)[7:]
    assert (image.layers[0] / "etc" / "hostname").read_text() == "box\n"
    assert await store.get("roost.local/box:1") == image


async def test_same_rootfs_twice_shares_the_layer(tmp_path: Path, store: ImageStore) -> None:
    (tmp_path / "a.tar").write_bytes(ROOTFS_TAR)
    (tmp_path / "b.tar.gz").write_bytes(gzip.compress(ROOTFS_TAR))
    a = await store.import_path(tmp_path / "a.tar", "roost.local/a:1")
    b = await store.import_path(tmp_path / "b.tar.gz", "roost.local/b:1")
    assert a.layers == b.layers
    assert len(store.layers.diff_ids()) == 1


async def test_oci_layout_directory_and_tar(tmp_path: Path, store: ImageStore) -> None:
    layout = oci_layout(tmp_path / "layout")
    image = await store.import_path(layout, "roost.local/app:1")
    assert image.config.cmd == ("/bin/app",)
    assert (image.layers[0] / "etc" / "os-release").read_text() == "ID=test\n"
    again = await store.import_path(tar_of(layout, tmp_path / "layout.tar"), "roost.local/app:2")
    assert again.digest == image.digest
    assert again.layers == image.layers
    assert list((store.root / "tmp").iterdir()) == []  # the unpacked archive is gone


async def test_oci_layout_with_several_images_needs_a_name(
    tmp_path: Path, store: ImageStore
) -> None:
    layout = oci_layout(tmp_path / "layout", tags=("one", "two"))
    with pytest.raises(ImageError, match=r"holds 2 images \(one, two\)"):
        await store.import_path(layout, "roost.local/app:1")
    assert (await store.import_path(layout, "roost.local/app:1", name="two")).layers
    assert (await store.import_path(layout, "roost.local/app:one")).layers  # the tag matches


async def test_corrupt_blob_in_a_layout_is_rejected(tmp_path: Path, store: ImageStore) -> None:
    layout = oci_layout(tmp_path / "layout")
    (layout / "blobs" / "sha256" / LAYER.digest[7:]).write_bytes(b"\x1f\x8b evil")
    with pytest.raises(ImageError, match="it is corrupt"):
        await store.import_path(layout, "roost.local/app:1")


async def test_docker_archive_directory_and_tar(tmp_path: Path, store: ImageStore) -> None:
    archive = docker_archive(tmp_path / "archive")
    image = await store.import_path(archive, "roost.local/app:1")
    assert image.config.cmd == ("/bin/app",)
    assert image.layers[0].name == LAYER.diff_id[7:]
    again = await store.import_path(tar_of(archive, tmp_path / "a.tar"), "roost.local/app:2")
    assert again.digest == image.digest  # the manifest we write is stable


async def test_docker_archive_paths_must_stay_inside(tmp_path: Path, store: ImageStore) -> None:
    (tmp_path / "secret.tar").write_bytes(LAYER.tar)
    archive = docker_archive(tmp_path / "archive", layers_path="../secret.tar")
    with pytest.raises(ImageError, match="outside the archive"):
        await store.import_path(archive, "roost.local/app:1")


async def test_not_an_image(tmp_path: Path, store: ImageStore) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageError, match="not a tar archive"):
        await store.import_path(tmp_path / "notes.txt", "roost.local/x:1")
    with pytest.raises(ImageError, match="no such file"):
        await store.import_path(tmp_path / "missing", "roost.local/x:1")
    with pytest.raises(ImageError, match="must be an OCI image layout"):
        await store.import_path(tmp_path, "roost.local/x:1")


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (["oci-layout", "index.json", "blobs/", "blobs/sha256/" + "a" * 64], "oci-layout"),
        (["./", "./oci-layout", "./index.json", "./manifest.json", "./blobs/"], "oci-layout"),
        (
            ["a" * 64 + ".tar", "b" * 64 + ".json", "manifest.json", "repositories"],
            "docker-archive",
        ),
        (["c" * 64 + "/layer.tar", "c" * 64 + "/json", "manifest.json"], "docker-archive"),
        (["./", "./bin/", "./manifest.json"], "rootfs"),
        (["etc/", "etc/passwd"], "rootfs"),
        ([], "rootfs"),
    ],
)
def test_format_is_told_by_content(names: list[str], kind: str) -> None:
    assert classify_names(names) == kind
