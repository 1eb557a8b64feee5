"""Importing what real tools write: umoci's OCI layout, skopeo's docker archive, tarballs."""

import os
import stat
from pathlib import Path

import pytest

from roost.runner.images import ImageStore
from roost.runner.images.whiteouts import is_whiteout
from tests.support.images import SampleImages, docker_archive, oci_archive, rootfs_tarball

pytestmark = pytest.mark.root


async def test_oci_layout_directory(tmp_path: Path, sample_images: SampleImages) -> None:
    image = await ImageStore(tmp_path).import_path(
        sample_images.layout, "roost.local/tools:1", name="tools"
    )
    assert len(image.layers) == 4
    assert is_whiteout(image.layers[2] / "etc" / "motd")
    assert image.config.cmd == ("/bin/sh",)


async def test_oci_layout_tar(tmp_path: Path, sample_images: SampleImages) -> None:
    archive = oci_archive(sample_images.layout, tmp_path / "layout.tar")
    store = ImageStore(tmp_path / "store")
    image = await store.import_path(archive, "roost.local/busybox:1", name="busybox")
    assert (image.layers[0] / "bin" / "busybox").is_file()


async def test_docker_archive_shares_layers_with_the_oci_import(
    tmp_path: Path, sample_images: SampleImages
) -> None:
    store = ImageStore(tmp_path / "store")
    from_oci = await store.import_path(sample_images.layout, "roost.local/a:1", name="tools")
    archive = docker_archive(sample_images.layout, "tools", tmp_path / "tools.tar", "tools:latest")
    from_docker = await store.import_path(archive, "roost.local/b:1")
    assert from_docker.layers == from_oci.layers  # same diff ids, whatever the packaging
    assert from_docker.config == from_oci.config


@pytest.mark.parametrize("compression", ["", "gzip", "zstd"])
async def test_rootfs_tarball(
    tmp_path: Path, sample_images: SampleImages, compression: str
) -> None:
    tarball = rootfs_tarball(sample_images.rootfs, tmp_path / "rootfs.tar", compression)
    image = await ImageStore(tmp_path / "store").import_path(tarball, "roost.local/box:1")
    root = image.layers[0]
    secret = (root / "home" / "user" / "secret").stat()
    assert (secret.st_uid, stat.S_IMODE(secret.st_mode)) == (1000, 0o640)
    assert stat.S_ISCHR(os.lstat(root / "dev" / "null").st_mode)
    assert image.config.cmd == ("/bin/sh",)
