"""Connections from the runner into an environment's own network namespace.

Ports forwarded with ``ssh -L`` and ports behind the proxy usually listen on 127.0.0.1 inside
the environment (development servers do by default). The environment's bridge address reaches
only servers bound to every address; a socket *created inside the environment's netns* reaches
its loopback too -- it sees exactly what a process inside would see, and no more: the same
routes and the same firewall, so it can no more reach the host or another environment than the
environment itself can.

A socket stays in the netns it was created in, and ``setns`` changes the calling thread only,
so the dialer makes sockets on a thread of its own: enter the netns, make the socket, leave
(``netns.entered``). Connecting then happens on the event loop like any other socket.
"""

import asyncio
import errno
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from roost.runner.nested import netwire
from roost.runner.network import netns

AddrInfo = tuple[int, int, int, str, tuple[str, int] | tuple[str, int, int, int]]


class NetnsDialer:
    def __init__(self, netns_path: Callable[[str], Path]) -> None:
        self.netns_path = netns_path
        self._executor = self._new_executor()

    @staticmethod
    def _new_executor() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="roost-dial")

    def _path(self, env_id: str) -> Path:
        path = self.netns_path(env_id)
        inner = netwire.inner_path(path)
        if netns.is_netns(inner):  # nested mode: its processes listen in a namespace of their own
            return inner
        if not netns.is_netns(path):
            raise OSError(errno.ENETUNREACH, f"environment {env_id} has no network; is it running?")
        return path

    @staticmethod
    def _make(path: Path, family: int, type_: int, proto: int) -> socket.socket:
        with netns.entered(path):
            sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        return sock

    def socket_for(self, env_id: str, family: int, type_: int, proto: int) -> socket.socket:
        """Synchronous (for aiohttp's ``socket_factory``): blocks for the thread hop only."""
        future = self._executor.submit(self._make, self._path(env_id), family, type_, proto)
        try:
            return future.result(timeout=5)
        except netns.NetnsRestoreError:
            self._retire()
            raise

    def factory(self, env_id: str) -> Callable[[AddrInfo], socket.socket]:
        """A socket factory for ``aiohttp.TCPConnector``: every socket inside ``env_id``."""

        def make(info: AddrInfo) -> socket.socket:
            family, type_, proto, _, _ = info
            return self.socket_for(env_id, family, type_, proto)

        return make

    async def connect(
        self, env_id: str, host: str, port: int, timeout: float = 10.0
    ) -> socket.socket:
        """A connected socket to ``host:port`` as seen from inside the environment."""
        path = self._path(env_id)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        failure: OSError = OSError(errno.EHOSTUNREACH, f"no address for {host}")
        for family, type_, proto, _, address in infos:
            try:
                sock = await asyncio.wrap_future(
                    self._executor.submit(self._make, path, family, type_, proto)
                )
            except netns.NetnsRestoreError:
                self._retire()
                raise
            try:
                await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
            except (OSError, TimeoutError) as exc:
                sock.close()
                failure = exc if isinstance(exc, OSError) else OSError(errno.ETIMEDOUT, "timed out")
                continue
            return sock
        raise failure

    def _retire(self) -> None:
        """A thread that could not leave a netns must make no more sockets."""
        broken, self._executor = self._executor, self._new_executor()
        broken.shutdown(wait=False)

    def close(self) -> None:
        self._executor.shutdown(wait=False)
