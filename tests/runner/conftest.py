"""Fixtures for runner tests: sample images, a loopback registry, the Debian base image, and a
full-busybox image (every applet: nc, wget, ping, httpd...) for network and limit tests."""

import asyncio
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from roost.runner.images import Image, ImageStore
from tests.support.images import CACHE_DIR, debian_base, sample_images
from tests.support.registry import empty_registry, registry

__all__ = ["debian_base", "empty_registry", "registry", "sample_images"]
BUSYBOX_FULL = "roost.test/busybox:full"


def shared_image_store() -> ImageStore:
    """The machine-wide test image cache (shared with ``debian_base``)."""
    return ImageStore(CACHE_DIR / "images")


def _full_busybox_rootfs(root: Path) -> Path:
    for d in ("bin", "etc", "tmp", "root", "var/www", "workspace"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    tarball = root.parent / "busybox-full.tar"
    subprocess.run(
        ["tar", "-C", str(root), "--numeric-owner", "-cf", str(tarball), "."], check=True
    )
    return tarball


@pytest.fixture(scope="session")
def busybox_full(tmp_path_factory: pytest.TempPathFactory) -> Image:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    tarball = _full_busybox_rootfs(tmp_path_factory.mktemp("busybox-full") / "rootfs")
    store = shared_image_store()
    with ThreadPoolExecutor(1) as pool:  # not on pytest-asyncio's loop
        return pool.submit(asyncio.run, store.import_path(tarball, BUSYBOX_FULL)).result(120)
