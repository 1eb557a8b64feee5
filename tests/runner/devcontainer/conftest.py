"""Builders for tests: buildah storage and exchange layout shared by the session (so the base
images are handed over once); images the session built are untagged from the shared image
store afterwards (their layers go with the store's next gc)."""

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from roost.runner.devcontainer.build_job import Log
from roost.runner.devcontainer.buildah import BuildahBuilder
from roost.runner.devcontainer.buildahrun import VIEW
from roost.runner.idalloc import IdAllocator
from tests.runner.conftest import shared_image_store

BUILT: list[str] = []


class TrackingBuilder(BuildahBuilder):
    async def to_store(self, image_id: str, log: Log) -> str:
        ref = await super().to_store(image_id, log)
        BUILT.append(ref)
        return ref


@pytest.fixture(scope="session")
def builder_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install buildah)")
    root = tmp_path_factory.mktemp("buildah")
    yield root
    store = shared_image_store()

    async def untag() -> None:
        for ref in set(BUILT):
            if await store.get(ref) is not None:
                await store.remove(ref)

    with ThreadPoolExecutor(1) as pool:  # not on pytest-asyncio's loop
        pool.submit(asyncio.run, untag()).result(60)
    shutil.rmtree(root, ignore_errors=True)
    with contextlib.suppress(OSError):  # busy while another session's build mounts on it
        VIEW.rmdir()


@pytest.fixture
def builder(builder_root: Path) -> BuildahBuilder:
    """A builder on the session's storage, over the machine-wide test image store."""
    return TrackingBuilder(
        builder_root / "b", shared_image_store(), IdAllocator(builder_root / "ids")
    )
