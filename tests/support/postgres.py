"""A private PostgreSQL cluster for the tests: Debian's server binaries, our own data directory,
port and socket directory, stopped afterwards.

``initdb`` refuses to run as root, so as root the cluster runs as the ``postgres`` system user
(created by Debian's package) and the data directory is handed to it. Durability is switched off
(``fsync=off`` and friends): the tests want speed, and a crash loses only a throw-away cluster.

Each test gets its own database, made by copying a migrated template
(``CREATE DATABASE ... TEMPLATE``), which costs tens of milliseconds instead of the seconds a
fresh migration would take.
"""

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

SPEED_OVER_SAFETY = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=400",
    "shared_buffers=32MB",
)
_names = itertools.count(1)


def server_bin() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<major>/bin`` (Debian 12: 15, 13: 17)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """One running (or stopped) PostgreSQL server; ``user`` may connect without a password."""

    base: Path
    bindir: Path
    port: int = field(default_factory=free_port)
    user: str = "roost"

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        prefix: list[str] = []
        if os.geteuid() == 0:
            prefix = ["runuser", "-u", "postgres", "--"]
        result = subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, check=False, timeout=120
        )
        if result.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {result.stderr}{result.stdout}\n{tail}")

    def init(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.base}",
                "-c listen_addresses=127.0.0.1",
                *(f"-c {o}" for o in SPEED_OVER_SAFETY),
            ]
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    async def execute(self, sql: str, database: str = "postgres") -> None:
        conn = await asyncpg.connect(self.url(database))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self, template: str | None = None) -> str:
        name = f"roost_{os.getpid()}_{next(_names)}"
        copy = f" TEMPLATE {template} STRATEGY WAL_LOG" if template else ""
        await self.execute(f"CREATE DATABASE {name}{copy}")
        return name

    async def drop_database(self, name: str) -> None:
        await self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a private cluster; stop it and delete its files however the block ends."""
    bindir = server_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (./dev test)")
    base = Path(tempfile.mkdtemp(prefix="roost-pg-"))
    cluster = Cluster(base=base, bindir=bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            if cluster.running():
                cluster.stop("immediate")
        _wait_gone(cluster)
        shutil.rmtree(base, ignore_errors=True)


def _wait_gone(cluster: Cluster) -> None:
    deadline = time.monotonic() + 10
    while cluster.running() and time.monotonic() < deadline:
        time.sleep(0.05)
