"""Shared fixtures: a real plane (FastAPI app + a real database) on a fake clock.

``plane`` runs every test that takes it twice: on SQLite (a file in the test's temp dir) and on
PostgreSQL (a fresh database copied from a migrated template in a private cluster that
:func:`postgres` starts once per session). Root tests, which spend their time in the runtime and
not in the plane, run on SQLite only, to keep CI time in bounds.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from roost.server.store import migrate
from roost.server.store.db import Database
from tests.support.plane import PlaneHarness, plane_harness
from tests.support.postgres import Cluster, running_cluster, server_bin

BACKENDS = ("sqlite", "postgresql")
T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``root`` need root and real kernel features; skip them elsewhere, loudly.
    Their PostgreSQL variants are not collected at all (see the module docstring)."""
    keep = [item for item in items if not _root_on_postgres(item)]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (runs in CI, which is root)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def _root_on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    backend = params.get("database_url") or params.get("blank_database_url")
    return backend == "postgresql" and "root" in item.keywords


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A private PostgreSQL cluster for the whole session, stopped at the end even on failure."""
    if server_bin() is None:
        pytest.skip("PostgreSQL is not installed (./dev test installs it as root)")
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_template(postgres: Cluster) -> str:
    """A database migrated to the newest revision, copied for each test."""

    async def make() -> str:
        name = await postgres.create_database()
        db = Database(postgres.url(name))
        try:
            await migrate.upgrade(db)
        finally:
            await db.dispose()
        return name

    return run_apart(make)


def run_apart(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion in a thread of its own: sync fixtures may be set up while
    a test's event loop is running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()  # type: ignore[arg-type]


@pytest.fixture
def postgres_url(postgres: Cluster, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test; dropped afterwards."""
    name = run_apart(lambda: postgres.create_database(template=postgres_template))
    try:
        yield postgres.url(name)
    finally:
        run_apart(lambda: postgres.drop_database(name))


@pytest.fixture(params=BACKENDS)
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no schema), once per backend: for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    cluster: Cluster = request.getfixturevalue("postgres")
    name = run_apart(cluster.create_database)
    try:
        yield cluster.url(name)
    finally:
        run_apart(lambda: cluster.drop_database(name))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The plane's database: each test that takes it runs once per backend."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'roost.db'}"


@pytest.fixture
async def plane(database_url: str, tmp_path: Path) -> AsyncIterator[PlaneHarness]:
    async with plane_harness(tmp_path, database_url) as harness:
        yield harness
