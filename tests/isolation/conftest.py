"""Fixtures for the isolation suite: the Debian image (bash, python3, sudo, util-linux), a host
listener and a host marker process the environments must not see or reach."""

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.support.images import debian_base

__all__ = ["debian_base"]


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP service on every address of the host (its loopback, main address, the bridges)."""
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))  # noqa: S104 - the point: reachable on every host address
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.fixture
def host_marker() -> Iterator[str]:
    """A host process with a unique word in its command line; stopped by its pid."""
    marker = f"roost-host-marker-{uuid.uuid4().hex}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", marker])
    try:
        yield marker
    finally:
        proc.kill()
        proc.wait()


def host_address() -> str:
    """The host's main address (the source it would use toward the internet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by connect()
        return str(s.getsockname()[0])
