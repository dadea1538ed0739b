"""
Tests for L{camserve.streams._direct}: writing a body straight to its socket.

They run on real TCP connections over loopback, because what they check is
Twisted's own TCP transport: if a Twisted release changes the queue
attributes the direct path reads, these tests fail loudly.
"""

from __future__ import annotations

import contextlib
import select
import socket
from typing import TYPE_CHECKING, Any

from support import loopback_connection, reactor, reactor_test
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.internet.testing import StringTransport
from twisted.web.http import HTTPChannel
from twisted.web.http import Request as HTTPRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from camserve import CameraHub, StreamViewer, camera_resource
from camserve.streams._direct import direct_body_writer
from camserve.streams._unchunked import start_close_delimited
from camserve.testing import PushSource, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.web.server import Request


class StreamResource(Resource):
    """
    Answers every GET with close-delimited headers and keeps the request, so
    a test can write its body.
    """

    isLeaf = True

    def __init__(self, close_delimited: bool = True) -> None:
        super().__init__()
        self.close_delimited = close_delimited
        self.requests: Deferred[Request] = Deferred()

    def render_GET(self, request: Request) -> object:
        if self.close_delimited:
            start_close_delimited(request)
        else:
            request.write(b"")
        self.requests.callback(request)
        return NOT_DONE_YET


class Collector(Protocol):
    """
    A client that collects everything it receives.
    """

    def __init__(self) -> None:
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """
    Let the reactor run until C{condition()} holds.
    """
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await deferLater(reactor, 0.01, lambda: None)
    raise AssertionError("timed out")


async def open_stream(
    resource: StreamResource, *, client_buffer: int | None = None
) -> tuple[Request, socket.socket, Any]:
    """
    A request being answered by C{resource}, and the raw client socket.
    """
    port: Any = reactor.listenTCP(0, Site(resource), interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    if client_buffer is not None:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, client_buffer)
    client.setblocking(False)
    client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    request = await resource.requests.addTimeout(5, reactor)
    return request, client, port


async def read_all(client: socket.socket, size: int) -> bytes:
    """
    Read from the non-blocking C{client} until C{size} bytes have come.
    """
    data = b""

    def more() -> bool:
        nonlocal data
        with contextlib.suppress(BlockingIOError):
            while len(data) < size:
                chunk = client.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        return len(data) >= size

    await until(more, 10)
    return data


@reactor_test
async def test_queue_attributes_mean_what_the_direct_path_assumes() -> None:
    """
    Twisted's TCP transport has an empty C{dataBuffer} and C{_tempDataLen} 0
    when nothing is queued, counts a C{write} in C{_tempDataLen} until the
    reactor sends it, and empties both again once it is sent.
    """
    transport, client, port = await loopback_connection()
    client.setblocking(False)
    try:
        assert transport.dataBuffer == b""
        assert transport._tempDataLen == 0
        transport.write(b"queued")
        assert transport._tempDataLen == 6
        await until(lambda: not transport._tempDataLen and not transport.dataBuffer)
        assert await read_all(client, 6) == b"queued"
    finally:
        client.close()
        await port.stopListening()


@reactor_test
async def test_idle_connection_is_written_at_once() -> None:
    """
    With nothing queued, the body goes to the socket during the call: Twisted
    queues nothing, and the byte count of the response grows.
    """
    resource = StreamResource()
    request, client, port = await open_stream(resource)
    try:
        transport: Any = request.channel.transport
        await until(lambda: not transport._tempDataLen and not transport.dataBuffer)
        write = direct_body_writer(request)
        assert write is not None
        before = request.sentLength
        write(b"part one")
        assert transport._tempDataLen == 0
        assert transport.dataBuffer == b""
        assert request.sentLength == before + 8
        received = await read_all(client, 1)
        head, _, body = received.partition(b"\r\n\r\n")
        while body != b"part one":
            body += await read_all(client, 1)
        assert b"Transfer-Encoding" not in head
    finally:
        client.close()
        await port.stopListening()


@reactor_test
async def test_queued_data_keeps_its_order() -> None:
    """
    While Twisted has bytes queued, the direct writer queues behind them, so
    the peer receives everything in order.
    """
    resource = StreamResource()
    request, client, port = await open_stream(resource)
    try:
        transport: Any = request.channel.transport
        write = direct_body_writer(request)
        assert write is not None
        transport.write(b"A" * 10)
        write(b"B" * 10)
        assert transport._tempDataLen >= 20
        received = await read_all(client, 1)
        while not received.endswith(b"B" * 10):
            received += await read_all(client, 1)
        assert received.endswith(b"\r\n\r\n" + b"A" * 10 + b"B" * 10)
    finally:
        client.close()
        await port.stopListening()


@reactor_test
async def test_what_the_kernel_refuses_is_queued_in_order_with_backpressure() -> None:
    """
    A write larger than the socket takes is sent in part and the rest queued;
    Twisted pauses the registered producer once its buffer is full, and the
    peer receives every byte in order.
    """
    resource = StreamResource()
    request, client, port = await open_stream(resource, client_buffer=32768)
    paused: list[bool] = []

    class Producer:
        def pauseProducing(self) -> None:
            paused.append(True)

        def resumeProducing(self) -> None:
            paused.append(False)

        def stopProducing(self) -> None:
            pass

    try:
        transport: Any = request.channel.transport
        transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        await until(lambda: not transport._tempDataLen and not transport.dataBuffer)
        request.registerProducer(Producer(), True)
        write = direct_body_writer(request)
        assert write is not None
        payload = bytes(range(256)) * 1024  # 256 KiB, past Twisted's 64 KiB buffer
        write(payload)
        queued = transport._tempDataLen
        assert 0 < queued < len(payload)
        write(payload)
        assert paused
        assert all(paused)
        received = await read_all(client, 1)
        _head, _, body = received.partition(b"\r\n\r\n")
        body += await read_all(client, 2 * len(payload) - len(body))
        assert body == payload + payload
        await until(lambda: paused[-1] is False)
        request.unregisterProducer()
    finally:
        client.close()
        await port.stopListening()


@reactor_test
async def test_bytes_left_in_data_buffer_keep_their_place() -> None:
    """
    After a partial send and a C{doWrite}, Twisted holds the rest in
    C{dataBuffer} with C{_tempDataLen} back at 0; once the socket would take
    more, the direct writer still queues behind those bytes rather than
    sending at once, and the peer receives everything in order.
    """
    resource = StreamResource()
    request, client, port = await open_stream(resource, client_buffer=32768)
    try:
        transport: Any = request.channel.transport
        server_socket = transport.getHandle()
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        head = await read_all(client, 1)
        while b"\r\n\r\n" not in head:
            head += await read_all(client, 1)
        _head, _, body = head.partition(b"\r\n\r\n")
        write = direct_body_writer(request)
        assert write is not None

        # The peer reads nothing, so the kernel takes only part of this, and
        # the reactor's doWrite calls leave the rest in dataBuffer.
        payload = bytes(range(256)) * 4096  # 1 MiB
        transport.write(payload)
        await until(lambda: transport._tempDataLen == 0)
        await until(lambda: not select.select([], [server_socket], [], 0)[1])

        # From here on the reactor does not run, so Twisted sends nothing
        # more: the peer reads what has reached it, and the socket, drained,
        # would take more bytes at once.
        with contextlib.suppress(BlockingIOError):
            while chunk := client.recv(1 << 20):
                body += chunk
        assert select.select([], [server_socket], [], 5)[1]
        assert transport._tempDataLen == 0
        assert 0 < transport.offset < len(transport.dataBuffer)

        write(b"B" * 10)
        assert transport._tempDataLen == 10
        body += await read_all(client, len(payload) + 10 - len(body))
        assert body == payload + b"B" * 10
    finally:
        client.close()
        await port.stopListening()


@reactor_test
async def test_part_the_socket_takes_none_of_is_left_to_the_writer() -> None:
    """
    With nothing queued and a socket that takes nothing, a part is not
    taken: nothing is queued, the producer is paused, and it is resumed once
    the socket drains; a part written then goes out.
    """
    resource = StreamResource()
    request, client, port = await open_stream(resource, client_buffer=32768)
    events: list[str] = []

    class Producer:
        def pauseProducing(self) -> None:
            events.append("pause")

        def resumeProducing(self) -> None:
            events.append("resume")

        def stopProducing(self) -> None:
            pass

    try:
        transport: Any = request.channel.transport
        server_socket = transport.getHandle()
        await until(lambda: not transport._tempDataLen and not transport.dataBuffer)
        request.registerProducer(Producer(), True)
        write = direct_body_writer(request)
        assert write is not None
        # Fill the kernel behind Twisted's back, so that Twisted has nothing
        # queued and the socket takes nothing.
        filler = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                filler += server_socket.send(b"x" * 65536)
        sent_before = request.sentLength

        assert write(b"declined") is False
        assert transport._tempDataLen == 0
        assert transport.dataBuffer == b""
        assert request.sentLength == sent_before
        assert events == ["pause"]
        assert transport.producerPaused

        received = b""

        def read_then(condition: Callable[[], bool]) -> Callable[[], bool]:
            def check() -> bool:
                nonlocal received
                with contextlib.suppress(BlockingIOError):
                    while chunk := client.recv(1 << 20):
                        received += chunk
                return condition()

            return check

        await until(read_then(lambda: events == ["pause", "resume"]))
        assert write(b"taken") is True
        await until(read_then(lambda: received.endswith(b"taken")))
        _head, _, body = received.partition(b"\r\n\r\n")
        assert body == b"x" * filler + b"taken"
        request.unregisterProducer()
    finally:
        client.close()
        await port.stopListening()


@reactor_test
async def test_declines_chunked_bodies() -> None:
    """
    A body that twisted.web chunks must go through C{request.write}.
    """
    resource = StreamResource(close_delimited=False)
    request, client, port = await open_stream(resource)
    try:
        assert request.chunked
        assert direct_body_writer(request) is None
    finally:
        client.close()
        await port.stopListening()


def test_declines_other_transports() -> None:
    """
    Transports other than Twisted's plain TCP one are left to C{request.write}.
    """
    channel = HTTPChannel()
    channel.makeConnection(StringTransport())
    request = HTTPRequest(channel)
    request.clientproto = b"HTTP/1.1"
    request.method = b"GET"
    start_close_delimited(request)
    assert request.startedWriting
    assert not request.chunked
    assert direct_body_writer(request) is None


@reactor_test
async def test_streams_set_tcp_nodelay() -> None:
    """
    A stream's connection has Nagle's algorithm off, so the short last
    segment of each part is not held back waiting for an acknowledgement.
    """
    source = PushSource()
    hub = CameraHub("cam", source, reactor)
    port: Any = reactor.listenTCP(
        0, Site(camera_resource(hub, reactor)), interface="127.0.0.1"
    )
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    client.setblocking(False)
    try:
        client.sendall(b"GET /video_feed HTTP/1.1\r\nHost: test\r\n\r\n")
        await until(lambda: source.running)
        source.push(make_jpeg(1))
        (viewer,) = tuple(hub._sinks)
        assert isinstance(viewer, StreamViewer)
        transport: Any = viewer._request.transport
        server_socket = transport.getHandle()
        assert server_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        client.close()
        await until(lambda: hub.viewers == 0)
        stopped = hub.shutdown()
        if source.running:
            source.finish_stop()
        await stopped
        await port.stopListening()
