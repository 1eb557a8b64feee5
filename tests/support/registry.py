"""A real registry on loopback: Debian's ``docker-registry`` (distribution 2.8) in a subprocess.

``run_registry(directory)`` starts one on a free 127.0.0.1 port with its storage in
``directory``, waits until ``/v2/`` answers and stops it (by PID) on exit. Its access log is
parsed to count requests, which is how tests prove that a blob was downloaded once, or not at
all.

Fixtures (import them into a conftest.py to use them):

* ``registry`` (session): a registry holding ``busybox:latest`` (one layer) and
  ``tools:latest`` (busybox's layer plus one), built by ``tests.support.images``;
* ``empty_registry`` (function): a registry of its own, e.g. to stop it mid-test.
"""

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.images import SampleImages, push
from tests.support.live import free_port

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
_ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


@dataclass
class Registry:
    host: str
    """``127.0.0.1:PORT``: use it in references, e.g. ``f"{registry.host}/busybox:latest"``."""
    url: str
    storage: Path
    log: Path
    process: subprocess.Popen[bytes]

    def requests(self, settle_s: float = 0.2) -> list[Request]:
        """Requests served so far, from the access log (waits until the log stops growing)."""
        size = -1
        while size != self.log.stat().st_size:
            size = self.log.stat().st_size
            time.sleep(settle_s)
        text = self.log.read_text(errors="replace")
        return [Request(m[1], m[2], int(m[3])) for m in _ACCESS.finditer(text)]

    def blob_downloads(self, since: int = 0) -> list[str]:
        """Paths of successful blob GETs among requests[since:]."""
        return [
            r.path
            for r in self.requests()[since:]
            if r.method == "GET" and "/blobs/sha256:" in r.path and r.status in (200, 307)
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def run_registry(directory: Path) -> Iterator[Registry]:
    if not REGISTRY_BINARY.exists():
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = directory / "config.yml"
    config.write_text(_CONFIG.format(storage=directory / "storage", port=port))
    log = directory / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(REGISTRY_BINARY), "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    registry = Registry(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", directory, log, process)
    try:
        _wait_ready(registry)
        yield registry
    finally:
        registry.stop()


def _wait_ready(registry: Registry, deadline_s: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {registry.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{registry.url}/v2/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"docker-registry on {registry.host} did not answer")


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory, sample_images: SampleImages
) -> Iterator[Registry]:
    with run_registry(tmp_path_factory.mktemp("registry")) as reg:
        push(sample_images.layout, "busybox", f"{reg.host}/busybox:latest")
        push(sample_images.layout, "tools", f"{reg.host}/tools:latest")
        yield reg


@pytest.fixture
def empty_registry(tmp_path: Path) -> Iterator[Registry]:
    with run_registry(tmp_path / "registry") as reg:
        yield reg
