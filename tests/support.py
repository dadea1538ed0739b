"""
Helpers shared by the tests: running tests on Twisted's real reactor, typed;
recording the log; finding a free port; splitting raw HTTP responses and
reading streams on raw sockets.
"""

from __future__ import annotations

import gc
import importlib.machinery
import socket
import time
import types
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from attrs import define, frozen
from twisted.internet import reactor as _global_reactor
from twisted.internet import ssl
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import ILogObserver, LogLevel, formatEvent
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from zope.interface import implementer

from camserve import IFrameSource, make_camera
from camserve.testing import MultipartParser, self_signed_pem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.logger import LogEvent
    from twisted.web.server import Site

    from camserve import ICamera
    from camserve.testing import Part

_Test = TypeVar("_Test", bound=Callable[..., Coroutine[Any, Any, None]])


def reactor_test(test: _Test) -> _Test:
    """
    Run an C{async} test on the real reactor (pytest-twisted's
    C{ensureDeferred}, which returns the test itself, marked).
    """
    return cast("_Test", pytest_twisted.ensureDeferred(test))


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """
    Let the reactor run until C{predicate()} holds; fail the test if it
    does not within 10 s.
    """
    deadline = time.monotonic() + 10
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await deferLater(_global_reactor, 0.01, lambda: None)


def double_module(name: str, doc: str | None, **attributes: object) -> types.ModuleType:
    """
    A module named C{name} holding C{attributes}, for a test double of a
    library to put in C{sys.modules}: it has the spec that
    C{importlib.util.find_spec} looks for in a module already imported.
    """
    module = types.ModuleType(name, doc)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    vars(module).update(attributes)
    return module


def blocking_camera(name: str, options: Mapping[str, Any]) -> ICamera:
    """
    L{make_camera}'s camera for a driver known to be blocking.
    """
    camera = make_camera(name, options)
    assert not IFrameSource.providedBy(camera)
    return camera


@implementer(ILogObserver)
class LogRecorder:
    """
    A log observer that keeps every event, in order (the C{log} fixture
    records the global log with one).
    """

    def __init__(self) -> None:
        self.events: list[LogEvent] = []

    def __call__(self, event: LogEvent) -> None:
        self.events.append(event)

    def formatted(
        self, level: LogLevel = LogLevel.warn, source: object = None
    ) -> list[str]:
        """
        The events at C{level} or above, formatted; if C{source} is given,
        only those logged by it (whose C{log_source} it is).
        """
        return [
            formatEvent(event)
            for event in self.events
            if _at_least(event, level)
            and (source is None or event.get("log_source") is source)
        ]

    def troubles(self, level: LogLevel = LogLevel.warn) -> list[str]:
        """
        The events at C{level} or above and those that carry a failure,
        formatted, each failure followed by its traceback.
        """
        described = []
        for event in self.events:
            failure = event.get("log_failure")
            if failure is None and not _at_least(event, level):
                continue
            text = formatEvent(event)
            if failure is not None:
                text += "\n" + failure.getTraceback()
            described.append(text)
        return described


def _at_least(event: LogEvent, level: LogLevel) -> bool:
    """
    Whether C{event} was logged at C{level} or above.
    """
    logged = event.get("log_level")
    return logged is not None and bool(logged >= level)


def assert_no_trouble(log: LogRecorder) -> None:
    """
    Nothing was logged at warning level or above, no failure was logged
    (unhandled errors in garbage Deferreds included), and twisted.web never
    complained about a producer left registered (it logs that as a failure,
    C{RuntimeError("Producer was not unregistered for ...")}).
    """
    gc.collect()
    assert log.troubles() == []


async def loopback_connection() -> tuple[Any, socket.socket, Any]:
    """
    The server's transport of a fresh loopback connection, the client's
    socket, and the listening port.
    """
    protocols: list[Protocol] = []

    class Remember(Protocol):
        def connectionMade(self) -> None:
            protocols.append(self)

    port: Any = reactor.listenTCP(
        0, Factory.forProtocol(Remember), interface="127.0.0.1"
    )
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    await wait_until(lambda: bool(protocols), "the server has the connection")
    return protocols[0].transport, client, port


def free_port() -> int:
    """
    A TCP port on 127.0.0.1 that was free a moment ago.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@frozen
class Response:
    """
    A raw HTTP response split into its status line, headers and body.

    @ivar headers: lower-case header names to all their values, in order.
    @ivar body: everything after the blank line that ends the headers.
    """

    status: bytes
    headers: dict[bytes, list[bytes]]
    body: bytes


def split_response(raw: bytes) -> Response:
    """
    Split C{raw}, which must hold at least a complete header block, every
    header line of which has a colon.
    """
    head, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, f"no complete header block in {raw[:200]!r}"
    status, *lines = head.split(b"\r\n")
    headers: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        assert colon, f"malformed header line {line!r}"
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Response(status, headers, body)


@define
class SiteConnection:
    """
    One client connection to a L{Site}, as the server sees it: over a
    L{StringTransportWithDisconnection}, paused and resumed by hand.
    """

    transport: StringTransportWithDisconnection
    channel: HTTPChannel

    @classmethod
    def open(cls, site: Site, request: bytes, **more: Any) -> Any:
        """
        Open a connection to C{site} and send C{request} on it; C{more} are
        the fields of a subclass.
        """
        protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        assert protocol is not None
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        channel = transport.producer
        assert isinstance(channel, HTTPChannel)
        protocol.dataReceived(request)
        return cls(transport, channel, **more)

    def raw(self) -> bytes:
        """
        Everything the server wrote.
        """
        return bytes(self.transport.value())

    def response(self) -> Response:
        """
        The response so far, split.
        """
        return split_response(self.raw())

    def parts(self) -> list[Part]:
        """
        The stream's parts so far, parsed strictly; the body must end exactly
        after a part's closing boundary.
        """
        parser = MultipartParser()
        parts = parser.feed(self.response().body)
        assert parser._buffer == b"", "the stream ends inside a part"
        return parts

    def pause(self) -> None:
        """
        The connection's send buffer fills up.
        """
        self.channel.pauseProducing()

    def resume(self) -> None:
        """
        The connection's send buffer drains.
        """
        self.channel.resumeProducing()

    def leave(self) -> None:
        """
        The client closes the connection.
        """
        self.channel.connectionLost(Failure(ConnectionDone()))

    @property
    def closed(self) -> bool:
        """
        Whether the server closed (or aborted) the connection.
        """
        return not self.transport.connected


def receive(sock: socket.socket, deadline: float) -> bytes:
    """
    One C{recv} on C{sock}, given until C{deadline} (on C{time.monotonic()});
    C{b""} once the peer has closed.

    @raise TimeoutError: if the deadline has passed or passes first.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the server sent too little in time")
    sock.settimeout(remaining)
    return sock.recv(65536)


def read_head(sock: socket.socket, deadline: float) -> Response:
    """
    Read a response's header block from C{sock} by C{deadline} and split it;
    its C{body} is whatever arrived after the header block meanwhile.

    @raise ConnectionError: if the server closes the connection first.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        received = receive(sock, deadline)
        if not received:
            raise ConnectionError(f"closed before the headers: {data!r}")
        data += received
    return split_response(data)


def send_get(sock: socket.socket, path: str) -> None:
    """
    Send C{GET path} over HTTP/1.1 on the connected C{sock}.
    """
    host, port = sock.getpeername()[:2]
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())


def read_parts(
    sock: socket.socket, count: int, deadline: float, start: bytes = b""
) -> list[Part]:
    """
    Parse a multipart stream strictly, C{start} and then what C{sock}
    receives by C{deadline}, until at least C{count} parts have arrived.

    @param start: the body's first bytes, read with the response's head.
    @raise ConnectionError: if the server closes the connection first.
    """
    parser = MultipartParser()
    parts = parser.feed(start)
    while len(parts) < count:
        data = receive(sock, deadline)
        if not data:
            raise ConnectionError(f"the stream ended after {len(parts)} parts")
        parts += parser.feed(data)
    return parts


def self_signed_tls() -> ssl.CertificateOptions:
    """
    TLS server settings with a fresh self-signed certificate for 127.0.0.1.
    """
    key, certificate = self_signed_pem()
    options: ssl.CertificateOptions = ssl.PrivateCertificate.loadPEM(
        certificate + key
    ).options()
    return options


reactor: Any = _global_reactor
"""
The global reactor, for tests that run on it. Typed loosely: as imported,
Twisted types it as a union of its interfaces, which matches no single call.
"""
