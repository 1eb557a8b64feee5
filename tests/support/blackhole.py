"""A plane that is there but does not answer (paused with SIGSTOP, a frozen VM): the kernel
completes TCP connections into the listen backlog, and nothing ever reads or replies."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_plane() -> Iterator[str]:
    """Yields its URL (http://127.0.0.1:PORT)."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
