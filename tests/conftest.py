"""Shared fixtures: a real plane (FastAPI app + SQLite in a temp dir) on a fake clock."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.plane import PlaneHarness, plane_harness


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``root`` need root and real kernel features; skip them elsewhere, loudly."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (runs in CI, which is root)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[PlaneHarness]:
    async with plane_harness(tmp_path) as harness:
        yield harness
