"""Several ``roost server`` processes on one PostgreSQL, behind Debian's haproxy on loopback.

The replicas share one data directory (the secrets key and the first admin token live there;
on several hosts it would be copied), each with its own log. haproxy checks ``/healthz`` every
200 ms and takes a dead replica out of rotation; a request already sent to it fails, as it would
in production, and clients retry.
"""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.live import free_port, wait_http

HAPROXY_CONFIG = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    retries 2
    option redispatch
frontend plane
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 200ms fall 1 rise 1
{servers}
"""


@dataclass
class Replica:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """``kill -9``: no shutdown, leases left held, connections dropped."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@dataclass
class Cluster:
    url: str
    data_dir: Path
    replicas: list[Replica] = field(default_factory=list)

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin-token").read_text().strip()


def start_replica(data_dir: Path, database: str, name: str, *args: str) -> Replica:
    port = free_port()
    log = data_dir.parent / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "roost", "server", "--data-dir", str(data_dir),
             "--listen", f"127.0.0.1:{port}", "--database", database, *args],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Replica(port=port, log=log, process=process)


@contextlib.contextmanager
def replicas_behind_haproxy(
    base: Path, database: str, count: int = 3, *args: str
) -> Iterator[Cluster]:
    data_dir = base / "plane"
    data_dir.mkdir(parents=True)
    started: list[Replica] = []
    haproxy: subprocess.Popen[bytes] | None = None
    try:
        started = [start_replica(data_dir, database, f"r{i}", *args) for i in range(count)]
        for replica in started:
            wait_http(f"{replica.url}/healthz", 60)
        port = free_port()
        servers = "\n".join(
            f"    server r{i} 127.0.0.1:{r.port} check" for i, r in enumerate(started)
        )
        config = base / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=port, servers=servers))
        with (base / "haproxy.log").open("wb") as out:
            haproxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", 30)
        yield Cluster(url=url, data_dir=data_dir, replicas=started)
    finally:
        for process in [*(r.process for r in started), haproxy]:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
