"""A small DNS relay, for hosts whose resolver listens on loopback (see ``resolv.py``).

It listens on the gateway address (UDP and TCP, port 53) and forwards each query, unchanged, to
the host's resolvers in order, returning the first answer. It neither caches nor parses beyond
the 2-byte message id, so DNSSEC, EDNS and odd record types pass through untouched, and the
host's resolver keeps doing the real work (split DNS, VPN domains, caching).

* UDP: each query goes out from a fresh socket connected to the upstream (a random source
  port per query, and only the upstream's answer with the same id is accepted). A truncated
  answer is passed back as is; the client then retries over TCP.
* TCP: RFC 1035 length-prefixed messages, several per connection, each forwarded over its own
  upstream TCP connection. Idle connections are closed after ``TCP_IDLE_SECONDS``.
* Only clients from ``clients`` (the environments' subnet) are answered, so the relay is not
  an open resolver for anyone who can route to the gateway address. At most
  ``MAX_INFLIGHT`` queries are in flight; beyond that queries are dropped (clients retry).
"""

import asyncio
import ipaddress
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, cast

log = logging.getLogger(__name__)

DNS_PORT = 53
MAX_INFLIGHT = 256
TCP_IDLE_SECONDS = 10.0
_HEADER = 12

Address = tuple[str, int]


class DnsRelay:
    """Forwards DNS queries from ``clients`` to ``upstreams``; ``start`` it, then ``close`` it."""

    def __init__(
        self,
        upstreams: Sequence[Address],
        *,
        clients: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None,
        timeout: float = 2.0,
    ) -> None:
        self.upstreams = tuple(upstreams)
        self.clients = clients
        self.timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self, host: str, port: int = DNS_PORT) -> None:
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _UdpServer(self), local_addr=(host, port)
        )
        self._tcp = await asyncio.start_server(self._serve_tcp, host, port)

    @property
    def udp_address(self) -> Address:
        """Where the relay listens for UDP (useful with port 0)."""
        if self._udp is None:
            raise RuntimeError("the DNS relay is not running")
        host, port = self._udp.get_extra_info("sockname")[:2]
        return host, port

    @property
    def tcp_address(self) -> Address:
        if self._tcp is None:
            raise RuntimeError("the DNS relay is not running")
        host, port = self._tcp.sockets[0].getsockname()[:2]
        return host, port

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
        self._udp = self._tcp = None

    def allowed(self, client: str) -> bool:
        return self.clients is None or ipaddress.ip_address(client) in self.clients

    def spawn(self, work: Coroutine[Any, Any, None]) -> bool:
        """Track ``work`` as a task, unless too much is in flight already."""
        if len(self._tasks) >= MAX_INFLIGHT:
            work.close()
            return False
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def resolve(self, query: bytes, *, tcp: bool) -> bytes | None:
        """The first upstream answer to ``query``, or ``None`` if every upstream failed."""
        if len(query) < _HEADER:
            return None
        for upstream in self.upstreams:
            try:
                if tcp:
                    return await _tcp_query(upstream, query, self.timeout)
                return await _udp_query(upstream, query, self.timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.debug("DNS upstream %s failed: %r", upstream, exc)
        return None

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = writer.get_extra_info("peername")
        if task is None or len(self._tasks) >= MAX_INFLIGHT or not self.allowed(peer[0]):
            writer.close()
            return
        self._tasks.add(task)
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_SECONDS):
                    query = await _read_message(reader)
                answer = await self.resolve(query, tcp=True)
                if answer is None:
                    break
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, relay: DnsRelay) -> None:
        self.relay = relay
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if self.relay.allowed(addr[0]):
            self.relay.spawn(self._answer(data, addr))

    async def _answer(self, query: bytes, client: Address) -> None:
        answer = await self.relay.resolve(query, tcp=False)
        if answer is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(answer, client)


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes, answer: asyncio.Future[bytes]) -> None:
        self.query_id = query_id
        self.answer = answer

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if data[:2] == self.query_id and not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)  # e.g. ICMP port unreachable


async def _udp_query(upstream: Address, query: bytes, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UdpClient(query[:2], answer), remote_addr=upstream
    )
    try:
        transport.sendto(query)
        return await asyncio.wait_for(answer, timeout)
    finally:
        transport.close()


async def _tcp_query(upstream: Address, query: bytes, timeout: float) -> bytes:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(*upstream)
        try:
            writer.write(len(query).to_bytes(2, "big") + query)
            await writer.drain()
            return await _read_message(reader)
        finally:
            writer.close()


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(2), "big")
    return await reader.readexactly(size)
