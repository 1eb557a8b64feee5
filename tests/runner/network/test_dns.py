"""The DNS relay against fake upstream servers on loopback."""

import asyncio
import ipaddress
import socket
import struct
from collections.abc import AsyncIterator
from typing import cast

import pytest

from roost.runner.network.dns import DnsRelay


def query(qid: int, name: bytes = b"example") -> bytes:
    return (
        struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + bytes([len(name)]) + name + b"\0\0\1\0\1"
    )


def answer_to(data: bytes, tag: bytes) -> bytes:
    return data[:2] + b"\x81\x80" + data[4:] + tag


class FakeUpstream(asyncio.DatagramProtocol):
    """Answers every query with the query plus ``tag``; optionally with a wrong id first."""

    def __init__(self, tag: bytes, *, wrong_id_first: bool = False, silent: bool = False) -> None:
        self.tag, self.wrong_id_first, self.silent = tag, wrong_id_first, silent
        self.seen: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen.append(data)
        if self.silent:
            return
        if self.wrong_id_first:
            self.transport.sendto(b"\xff\xff" + answer_to(data, b"WRONG")[2:], addr)
        self.transport.sendto(answer_to(data, self.tag), addr)


async def udp_upstream(protocol: FakeUpstream) -> tuple[asyncio.BaseTransport, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: protocol, local_addr=("127.0.0.1", 0)
    )
    return transport, transport.get_extra_info("sockname")


async def tcp_upstream(tag: bytes) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = int.from_bytes(await reader.readexactly(2), "big")
        reply = answer_to(await reader.readexactly(size), tag)
        writer.write(len(reply).to_bytes(2, "big") + reply)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def dead_port() -> tuple[str, int]:
    """A loopback UDP port nobody listens on (ICMP port unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        return host, port


async def ask_udp(relay: DnsRelay, data: bytes, timeout: float = 2.0) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, relay.udp_address)
        await loop.sock_sendall(sock, data)
        return await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FakeUpstream, tuple[str, int]]]:
    protocol = FakeUpstream(b"UDP")
    transport, address = await udp_upstream(protocol)
    yield protocol, address
    transport.close()


async def start(relay: DnsRelay) -> DnsRelay:
    await relay.start("127.0.0.1", 0)
    return relay


async def test_udp_query_is_forwarded_and_answered(
    upstream: tuple[FakeUpstream, tuple[str, int]],
) -> None:
    fake, address = upstream
    relay = await start(DnsRelay([address]))
    try:
        data = query(0x1234)
        assert await ask_udp(relay, data) == answer_to(data, b"UDP")
        assert fake.seen == [data]
    finally:
        await relay.close()


async def test_first_failing_upstream_is_skipped(
    upstream: tuple[FakeUpstream, tuple[str, int]],
) -> None:
    relay = await start(DnsRelay([dead_port(), upstream[1]], timeout=1.0))
    try:
        data = query(7)
        assert await ask_udp(relay, data) == answer_to(data, b"UDP")
    finally:
        await relay.close()


async def test_answers_with_another_id_are_ignored() -> None:
    fake = FakeUpstream(b"RIGHT", wrong_id_first=True)
    transport, address = await udp_upstream(fake)
    relay = await start(DnsRelay([address]))
    try:
        data = query(42)
        assert await ask_udp(relay, data) == answer_to(data, b"RIGHT")
    finally:
        await relay.close()
        transport.close()


async def test_silent_upstream_means_no_answer_and_close_cancels_cleanly() -> None:
    fake = FakeUpstream(b"", silent=True)
    transport, address = await udp_upstream(fake)
    relay = await start(DnsRelay([address], timeout=5.0))
    try:
        with pytest.raises(TimeoutError):
            await ask_udp(relay, query(1), timeout=0.3)
    finally:
        await relay.close()  # the query still waiting upstream is cancelled
        transport.close()


async def test_clients_outside_the_subnet_are_ignored(
    upstream: tuple[FakeUpstream, tuple[str, int]],
) -> None:
    relay = await start(DnsRelay([upstream[1]], clients=ipaddress.IPv4Network("10.212.0.0/24")))
    try:
        with pytest.raises(TimeoutError):
            await ask_udp(relay, query(2), timeout=0.3)
        assert upstream[0].seen == []
    finally:
        await relay.close()


async def test_short_garbage_is_dropped(upstream: tuple[FakeUpstream, tuple[str, int]]) -> None:
    relay = await start(DnsRelay([upstream[1]]))
    try:
        with pytest.raises(TimeoutError):
            await ask_udp(relay, b"\x00\x01", timeout=0.3)
    finally:
        await relay.close()


async def test_tcp_queries_are_forwarded_over_tcp() -> None:
    server = await tcp_upstream(b"TCP")
    relay = await start(DnsRelay([server.sockets[0].getsockname()]))
    try:
        reader, writer = await asyncio.open_connection(*relay.tcp_address)
        for qid in (1, 2):  # two queries on one connection
            data = query(qid)
            writer.write(len(data).to_bytes(2, "big") + data)
            size = int.from_bytes(await reader.readexactly(2), "big")
            assert await reader.readexactly(size) == answer_to(data, b"TCP")
        writer.close()
        await writer.wait_closed()
    finally:
        await relay.close()
        server.close()
        await server.wait_closed()
