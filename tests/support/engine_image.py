"""A test image with container engines inside: Debian bookworm, ``docker.io`` (with its
``docker-compose`` 1.29), ``podman`` and ``busybox-static`` (to make tiny images inside with
``docker import``: no registry is reachable from an environment).

Built once per machine with mmdebstrap, cached like ``debian_base`` (``images.py``) in
``/var/tmp/roost-test-cache/images``; rebuilt when ``ENGINE_PACKAGES`` changes. Needs root.
"""

import asyncio
import fcntl
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from roost.runner.images import DEFAULT_PACKAGES, Image, ImageStore
from tests.support.images import BUILD_TIMEOUT_S, CACHE_DIR

ENGINE_IMAGE = "roost-test/engines:1"
ENGINE_PACKAGES = (
    *DEFAULT_PACKAGES, "busybox-static", "docker.io", "docker-compose", "iptables", "podman",
)  # fmt: skip


def cached_engine_image() -> Image:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / "build-engines.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store = ImageStore(CACHE_DIR / "images")

        async def get_or_build() -> Image:
            image = await store.get(ENGINE_IMAGE)
            wanted = ",".join(ENGINE_PACKAGES)
            if image is not None and image.config.labels.get("org.roost.packages") == wanted:
                return image
            return await store.build_base(ENGINE_IMAGE, packages=ENGINE_PACKAGES)

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, get_or_build()).result(timeout=BUILD_TIMEOUT_S)


@pytest.fixture(scope="session")
def engine_image() -> Image:
    if os.geteuid() != 0:
        pytest.skip("building the engine image needs root (mmdebstrap)")
    return cached_engine_image()
