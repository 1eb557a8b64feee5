"""Fixtures for the image tests: a fake registry for unit tests; the real-registry and
sample-image fixtures from ``tests.support`` for the root-marked integration tests."""

from pathlib import Path

import pytest

from roost.runner.images import ImageStore
from tests.runner.images.fakes import FakeRegistry
from tests.support.images import debian_base, sample_images
from tests.support.registry import empty_registry, registry

__all__ = ["debian_base", "empty_registry", "registry", "sample_images"]


@pytest.fixture
def fake() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def store(tmp_path: Path, fake: FakeRegistry) -> ImageStore:
    return ImageStore(tmp_path / "store", transport=fake.transport())
