"""Engines and sessions.

``Database.read()`` and ``Database.write()`` hand out ``AsyncSession`` objects in a transaction.
On SQLite, write transactions start with ``BEGIN IMMEDIATE`` on a single pooled connection, so
writers queue in-process instead of failing with ``database is locked`` when a read transaction
tries to upgrade; reads use WAL snapshots and never block writers. On PostgreSQL both use the
same engine and normal ``BEGIN``.

After a write that recorded watch events commits, ``on_commit`` callbacks run (the watch hub
wakes its long-polls there). Never make a network call while a session is open.

When the database goes away (PostgreSQL restarted, network cut), operations raise errors that
:func:`is_unavailable` recognises: the API answers them with 503 and the control loops pause
until it returns. Connections are checked before use (``pool_pre_ping``), so the first request
after an outage does not inherit a dead pooled connection.
"""

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy.exc
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


SERIAL_KEY = 0x726F6F7374_01
"""Advisory lock id of :meth:`Database.serialize`."""
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a new PostgreSQL connection before the request fails with 503."""
POOL_TIMEOUT = 30.0
"""Seconds a request waits for a pooled connection: under a burst the pool runs dry for a
moment, which is load, not an outage (the load benchmark hit this with 5 s)."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database cannot be reached now" (retry later), as opposed to a
    bug or a constraint violation."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, sqlalchemy.exc.TimeoutError | ConnectionError | TimeoutError):
        return True  # pool exhausted while connections hang; refused or reset connections
    if isinstance(exc, socket.gaierror):
        return True  # the database's host name does not resolve (DNS down)
    # asyncpg's own classes (wrapped by SQLAlchemy's adapter): the server is shutting down,
    # starting, or the connection dropped.
    return type(exc).__name__ in {
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "AdminShutdownError",
        "CrashShutdownError",
    }


def normalize_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The plane's database: SQLite (embedded default) or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(self.url, immediate=True, pool_size=1)
            self.read_engine = _sqlite_engine(self.url, immediate=False, pool_size=8)
        else:
            self.write_engine = create_async_engine(
                self.url,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                pool_timeout=POOL_TIMEOUT,
                connect_args={"timeout": CONNECT_TIMEOUT},
            )
            self.read_engine = self.write_engine
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self.on_commit: list[Callable[[], None]] = []

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; commits on success, rolls back on any exception."""
        async with self._write() as session:
            async with session.begin():
                yield session
            if session.info.get("events"):
                for callback in self.on_commit:
                    callback()

    async def serialize(self, session: AsyncSession) -> None:
        """Within a write: wait until no other replica is in a serialised write (PostgreSQL
        advisory lock, released at commit). SQLite's writes are serialised already."""
        if not self.is_sqlite:
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SERIAL_KEY})

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
