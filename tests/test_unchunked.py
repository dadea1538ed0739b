"""
Tests for L{camserve.streams._unchunked.start_close_delimited} over a real
twisted.web L{HTTPChannel} connected to an in-memory transport.

start_close_delimited depends on how twisted.web's L{Request.write} decides to
chunk-encode and on the channel's C{writeHeaders} and C{persistent}: details
that a Twisted upgrade may change. These tests are the loud alarm when one
does. If they fail after upgrading Twisted, every MJPEG stream camserve sends
is probably broken (chunk sizes inside the stream, a stray C{0\\r\\n\\r\\n}, or
connections that never close): fix C{camserve/_unchunked.py} before
anything else. C{test_twisted_chunks_by_default} checks the premise: if only
it fails, twisted.web stopped chunking on its own and the module may no
longer be needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define
from support import split_response
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from camserve.streams._unchunked import start_close_delimited

if TYPE_CHECKING:
    from twisted.web.server import Request


class Holding(Resource):
    """
    A resource that keeps every request open, for the test to answer.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []

    def render(self, request: Request) -> int:
        """
        Keep C{request}.
        """
        self.requests.append(request)
        return NOT_DONE_YET


@define
class Connection:
    """
    One connection to a L{Site} serving a L{Holding} resource.
    """

    resource: Holding
    transport: StringTransport

    @property
    def request(self) -> Request:
        """
        The one request received.
        """
        (request,) = self.resource.requests
        return request

    def raw(self) -> bytes:
        """
        Everything the server wrote.
        """
        return bytes(self.transport.value())


def connect(data: bytes) -> Connection:
    """
    Connect to a fresh site and send C{data}.
    """
    resource = Holding()
    site = Site(resource, reactor=Clock())
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    assert protocol is not None
    transport = StringTransport()
    protocol.makeConnection(transport)
    assert isinstance(transport.producer, HTTPChannel)
    protocol.dataReceived(data)
    return Connection(resource, transport)


def assert_finish_closes_silently(connection: Connection) -> None:
    """
    Finishing the request closes the connection and writes nothing more: no
    C{0\\r\\n\\r\\n} chunk terminator.
    """
    before = connection.raw()
    connection.request.finish()
    assert connection.transport.disconnecting
    assert connection.raw() == before


def test_http11_headers() -> None:
    """
    Over HTTP/1.1 the status line and headers are sent at once, with
    C{Connection: close} and without C{Transfer-Encoding} or
    C{Content-Length}, and no body byte yet.
    """
    connection = connect(b"GET /video_feed HTTP/1.1\r\nHost: x\r\n\r\n")
    request = connection.request
    request.setHeader(b"content-type", b"multipart/x-mixed-replace; boundary=frame")
    assert connection.raw() == b""
    start_close_delimited(request)
    response = split_response(connection.raw())
    assert response.status == b"HTTP/1.1 200 OK"
    assert response.headers[b"connection"] == [b"close"]
    assert response.headers[b"content-type"] == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert b"transfer-encoding" not in response.headers
    assert b"content-length" not in response.headers
    assert response.body == b""
    assert not request.chunked
    assert not connection.transport.disconnecting


def test_http11_writes_verbatim() -> None:
    """
    Over HTTP/1.1, what is written after the headers goes out unframed, byte
    for byte, and the headers are not sent again.
    """
    connection = connect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    request = connection.request
    start_close_delimited(request)
    headers_sent = connection.raw()
    request.write(b"--frame\r\n")
    request.write(b"")
    request.write(b"\x00\xff\r\n0\r\n")
    assert connection.raw() == headers_sent + b"--frame\r\n\x00\xff\r\n0\r\n"
    assert connection.raw().count(b"HTTP/1.1 200 OK") == 1


def test_http11_finish_closes() -> None:
    """
    Over HTTP/1.1, finishing the request closes the connection and writes
    nothing more: no C{0\\r\\n\\r\\n} chunk terminator.
    """
    connection = connect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    request = connection.request
    start_close_delimited(request)
    request.write(b"body")
    assert connection.raw().endswith(b"\r\n\r\nbody")
    assert_finish_closes_silently(connection)


def test_http11_keep_alive_requested() -> None:
    """
    A client asking to keep the connection alive still gets
    C{Connection: close}, and the connection closes when the response ends.
    """
    connection = connect(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    request = connection.request
    start_close_delimited(request)
    request.write(b"body")
    request.finish()
    response = split_response(connection.raw())
    assert response.headers[b"connection"] == [b"close"]
    assert response.body == b"body"
    assert connection.transport.disconnecting


def test_http11_pipelined_request_not_served() -> None:
    """
    A request pipelined behind a close-delimited response is never
    answered: its response would be read as part of the body.
    """
    connection = connect(
        b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    request = connection.request
    start_close_delimited(request)
    request.write(b"body")
    request.finish()
    assert len(connection.resource.requests) == 1
    assert connection.raw().count(b"HTTP/1.1") == 1
    assert connection.transport.disconnecting


def test_status_code_kept() -> None:
    """
    The status code and message set before are the ones sent.
    """
    connection = connect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    request = connection.request
    request.setResponseCode(203)
    start_close_delimited(request)
    response = split_response(connection.raw())
    assert response.status == b"HTTP/1.1 203 Non-Authoritative Information"


def test_http10() -> None:
    """
    Over HTTP/1.0 the response is unchunked too, with C{Connection: close};
    writes go out verbatim and finishing closes the connection without a
    terminator.
    """
    connection = connect(b"GET / HTTP/1.0\r\n\r\n")
    request = connection.request
    start_close_delimited(request)
    response = split_response(connection.raw())
    assert response.status == b"HTTP/1.0 200 OK"
    assert response.headers[b"connection"] == [b"close"]
    assert b"transfer-encoding" not in response.headers
    assert response.body == b""
    request.write(b"abc")
    request.write(b"def")
    assert connection.raw().endswith(b"\r\n\r\nabcdef")
    assert_finish_closes_silently(connection)


def test_twisted_chunks_by_default() -> None:
    """
    The premise: without start_close_delimited, twisted.web chunk-encodes an
    HTTP/1.1 response that has no Content-Length.
    """
    connection = connect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    request = connection.request
    request.write(b"hello")
    request.finish()
    response = split_response(connection.raw())
    assert response.headers[b"transfer-encoding"] == [b"chunked"]
    assert response.body == b"5\r\nhello\r\n0\r\n\r\n"
    assert not connection.transport.disconnecting
