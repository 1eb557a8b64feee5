"""Pulling from a real registry (Debian's docker-registry on loopback) as root."""

import asyncio
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roost.runner.images import ImageError, ImageStore, ImageUnavailable
from roost.runner.images.whiteouts import is_whiteout
from tests.support.images import SampleImages, push
from tests.support.registry import Registry

pytestmark = pytest.mark.root

TOOLS_BLOBS = 5  # config + 4 layers
CHILD = """
import asyncio, sys, time
from pathlib import Path
from roost.runner.images import ImageStore
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
asyncio.run(ImageStore(Path(sys.argv[1])).pull(sys.argv[3]))
"""


async def test_pull_keeps_owners_modes_links_devices_and_xattrs(
    tmp_path: Path, registry: Registry
) -> None:
    image = await ImageStore(tmp_path).pull(f"{registry.host}/busybox")
    assert image.ref == f"{registry.host}/busybox:latest"
    assert image.config.cmd == ("/bin/sh",)
    assert image.config.env == ("GREETING=hi",)
    assert image.config.labels == {"org.example": "busybox"}
    root = image.layers[0]
    secret = (root / "home" / "user" / "secret").stat()
    assert (secret.st_uid, secret.st_gid, stat.S_IMODE(secret.st_mode)) == (1000, 1000, 0o640)
    assert stat.S_IMODE((root / "usr" / "bin" / "suid-tool").stat().st_mode) == 0o4755
    assert os.readlink(root / "bin" / "sh") == "busybox"
    assert (root / "etc" / "motd").stat().st_nlink == 2
    null = os.lstat(root / "dev" / "null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert os.getxattr(root / "etc" / "motd", "user.roost") == b"kept"


async def test_second_pull_downloads_no_blob(tmp_path: Path, registry: Registry) -> None:
    store = ImageStore(tmp_path)
    start = len(registry.requests())
    await store.pull(f"{registry.host}/tools")
    assert len(registry.blob_downloads(start)) == TOOLS_BLOBS
    start = len(registry.requests())
    await store.pull(f"{registry.host}/tools")
    assert registry.blob_downloads(start) == []


async def test_concurrent_pulls_in_one_process(tmp_path: Path, registry: Registry) -> None:
    store = ImageStore(tmp_path)
    start = len(registry.requests())
    a, b = await asyncio.gather(*(store.pull(f"{registry.host}/tools") for _ in range(2)))
    assert a == b
    downloads = registry.blob_downloads(start)
    assert len(downloads) == len(set(downloads)) == TOOLS_BLOBS


def test_two_processes_pulling_at_once_download_once(tmp_path: Path, registry: Registry) -> None:
    go = tmp_path / "go"
    start = len(registry.requests())
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(tmp_path / "store"),
                str(go),
                f"{registry.host}/tools",
            ]
        )
        for _ in range(2)
    ]
    try:
        time.sleep(0.5)  # both interpreters up and polling for the go file
        go.touch()
        assert [c.wait(timeout=60) for c in children] == [0, 0]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    downloads = registry.blob_downloads(start)
    assert len(downloads) == len(set(downloads)) == TOOLS_BLOBS


async def test_images_sharing_a_layer_store_it_once(tmp_path: Path, registry: Registry) -> None:
    store = ImageStore(tmp_path)
    busybox = await store.pull(f"{registry.host}/busybox")
    start = len(registry.requests())
    tools = await store.pull(f"{registry.host}/tools")
    assert tools.layers[0] == busybox.layers[0]
    assert len(registry.blob_downloads(start)) == TOOLS_BLOBS - 1  # not the shared layer
    assert len(store.layers.diff_ids()) == 4


async def test_layers_stack_as_an_overlay(tmp_path: Path, registry: Registry) -> None:
    image = await ImageStore(tmp_path / "store").pull(f"{registry.host}/tools")
    assert is_whiteout(image.layers[2] / "etc" / "motd")
    check_overlay(image.layers, tmp_path)


def check_overlay(layers: tuple[Path, ...], tmp_path: Path) -> None:
    """Mount the layers as overlayfs does for an environment and look inside."""
    merged, upper, work = (tmp_path / d for d in ("merged", "upper", "work"))
    for d in (merged, upper, work):
        d.mkdir()
    lower = ":".join(str(p) for p in reversed(layers))
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        assert not (merged / "etc" / "motd").exists()  # whiteout
        assert (merged / "etc" / "motd.hardlink").exists()
        assert os.listdir(merged / "var" / "cache") == ["fresh"]  # opaque
        assert (merged / "opt" / "tools" / "hello").is_file()
        run = subprocess.run(
            ["chroot", str(merged), "/bin/sh", "-c", "id -u; /opt/tools/hello"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert run.stdout.split() == ["0", "hello"]
    finally:
        subprocess.run(["umount", str(merged)], check=True)


async def test_missing_tag_is_an_image_error(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(ImageError) as caught:
        await ImageStore(tmp_path).pull(f"{registry.host}/busybox:nope")
    assert caught.value.message.startswith(
        f"image 'busybox' not found in registry {registry.host} (HTTP 404 for manifest nope"
    )


async def test_stopped_registry_is_unavailable_but_cached_images_still_work(
    tmp_path: Path, empty_registry: Registry, sample_images: SampleImages
) -> None:
    ref = f"{empty_registry.host}/busybox:latest"
    push(sample_images.layout, "busybox", ref)
    store = ImageStore(tmp_path)
    image = await store.pull(ref)
    empty_registry.stop()
    with pytest.raises(ImageUnavailable, match=f"registry {empty_registry.host} is unreachable"):
        await store.pull(ref)
    assert await store.ensure(ref) == image
