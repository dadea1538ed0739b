"""
Tests for L{camserve.access._site}: the hardened Site's header timeout, connection
limits, refused bodies and heads, and response headers; on in-memory
transports with a L{Clock}, and one test over real sockets.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any, cast

import pytest
from support import (
    LogRecorder,
    reactor_test,
    read_head,
    send_get,
    split_response,
    wait_until,
)
from twisted.internet import reactor
from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.internet.threads import deferToThread
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from camserve import CameraService, CamserveSite, service_resource
from camserve.access._answers import LINGER
from camserve.access._channel import CONTENT_SECURITY_POLICY, CamserveChannel
from camserve.access._proxies import TrustedProxies, parse_networks
from camserve.access._twisted_web import request_line
from camserve.testing import MultipartParser, PushSource, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from support import Response
    from twisted.internet.interfaces import IProtocol
    from twisted.web.resource import IResource
    from twisted.web.server import Request

    from camserve.testing import Part


class Echo(Resource):
    """
    Answers C{GET} with C{ok}, C{POST} with the length of its body, and
    counts the requests it renders.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.rendered = 0

    def render_GET(self, request: Request) -> bytes:
        self.rendered += 1
        request.setHeader(b"content-type", b"text/plain")
        return b"ok"

    def render_POST(self, request: Request) -> bytes:
        self.rendered += 1
        content = request.content
        assert content is not None
        return b"%d" % len(content.read())


class Streaming(Resource):
    """
    Answers every request with a response that writes once and never ends.
    """

    isLeaf = True

    def render_GET(self, request: Request) -> object:
        request.write(b"first")
        return NOT_DONE_YET


class HalfClosable(StringTransportWithDisconnection):
    """
    An in-memory transport that can close its writing side, as TCP's can.
    """

    write_closed = False

    def loseWriteConnection(self) -> None:
        self.write_closed = True


class Client:
    """
    One connection to a site on an in-memory transport.
    """

    def __init__(
        self,
        site: CamserveSite,
        host: str = "127.0.0.1",
        transport: StringTransportWithDisconnection | None = None,
    ) -> None:
        address = IPv4Address("TCP", host, 50000)
        protocol: IProtocol = site.buildProtocol(address)
        self.transport = transport or StringTransportWithDisconnection(
            peerAddress=address
        )
        self.transport.protocol = protocol
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    @property
    def open(self) -> bool:
        return bool(self.transport.connected)

    def response(self) -> Response:
        return split_response(self.transport.value())

    def code(self) -> int:
        return int(self.response().status.split()[1])


def make_site(resource: IResource | None = None, **limits: Any) -> CamserveSite:
    """
    A site on a L{Clock} that answers to the host name C{camserve}, which
    the tests' requests name, unless C{limits} says otherwise.
    """
    limits.setdefault("allowed_hosts", ["camserve"])
    return CamserveSite(resource or Echo(), Clock(), **limits)


def clock_of(site: CamserveSite) -> Clock:
    clock = site.reactor
    assert isinstance(clock, Clock)
    return clock


GET = b"GET / HTTP/1.1\r\nHost: camserve\r\n\r\n"

# The header timeout


def test_a_trickled_head_is_cut_at_the_header_timeout() -> None:
    """
    A client that sends a header byte every 3 s, each restarting
    twisted.web's idle timer, is answered 408 and closed 10 s after it
    connected.
    """
    site = make_site()
    clock = clock_of(site)
    client = Client(site)
    client.send(b"GET / HTTP/1.1\r\nX-Slow: ")
    for _ in range(3):
        clock.advance(3)
        client.send(b"a")
    clock.advance(0.9)
    assert client.open
    assert client.transport.value() == b""
    clock.advance(0.1)
    assert not client.open
    assert client.code() == 408


def test_a_head_in_time_is_served() -> None:
    """
    A head that arrives in pieces but whole within the header timeout is
    served.
    """
    resource = Echo()
    site = make_site(resource)
    clock = clock_of(site)
    client = Client(site)
    for piece in (b"GET / HTTP/1.1\r\n", b"Host: camserve\r\n", b"\r\n"):
        client.send(piece)
        clock.advance(3)
    assert client.code() == 200
    assert resource.rendered == 1
    assert client.open


def test_the_next_head_must_arrive_in_time_too() -> None:
    """
    After an answer, a persistent connection waits the header timeout for
    the next head, then is answered 408 and closed.
    """
    site = make_site(header_timeout=5)
    clock = clock_of(site)
    client = Client(site)
    clock.advance(4)
    client.send(GET)
    clock.advance(4.9)
    assert client.open
    clock.advance(0.1)
    assert not client.open
    assert b"408 Request Timeout" in client.transport.value()


def test_a_trickled_body_is_cut_at_the_request_timeout() -> None:
    """
    A body trickled a byte every 3 s, each restarting twisted.web's idle
    timer, is answered 408 and closed 10 s after the connection began: the
    request timeout covers the body as well as the head. The application
    never sees the request.
    """
    resource = Echo()
    site = make_site(resource, max_body_size=4000)
    clock = clock_of(site)
    client = Client(site)
    client.send(
        b"POST / HTTP/1.1\r\nHost: camserve\r\n"
        b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"
    )
    for _ in range(3):
        clock.advance(3)
        client.send(b" ")
    clock.advance(0.9)
    assert client.open
    assert client.transport.value() == b""
    clock.advance(0.1)
    assert not client.open
    assert client.code() == 408
    assert resource.rendered == 0


def test_a_promised_body_that_never_comes_is_cut() -> None:
    """
    A request that asks C{Expect: 100-continue} is told to go on, and is
    answered 408 and closed at the request timeout if its body never comes.
    """
    resource = Echo()
    site = make_site(resource, max_body_size=4000)
    clock = clock_of(site)
    client = Client(site)
    client.send(
        b"POST / HTTP/1.1\r\nHost: camserve\r\nExpect: 100-continue\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    assert client.transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    clock.advance(9.9)
    assert client.open
    clock.advance(0.1)
    assert not client.open
    assert b"\r\n\r\nHTTP/1.1 408 Request Timeout\r\n" in client.transport.value()
    assert resource.rendered == 0


def test_a_body_in_time_is_served() -> None:
    """
    A body that arrives whole within the request timeout is served, and the
    timeout no longer applies while the answer is made.
    """
    resource = Echo()
    site = make_site(resource, max_body_size=100)
    clock = clock_of(site)
    client = Client(site)
    client.send(b"POST / HTTP/1.1\r\nHost: camserve\r\nContent-Length: 4\r\n\r\n")
    clock.advance(5)
    client.send(b"abcd")
    assert client.code() == 200
    assert client.response().body == b"4"
    clock.advance(9)
    assert client.open


def test_a_stream_is_not_cut_by_the_header_timeout() -> None:
    """
    A long-lived response is not cut: the header timeout ends with the head.
    """
    site = make_site(Streaming())
    clock = clock_of(site)
    client = Client(site)
    client.send(GET)
    clock.advance(3600)
    assert client.open
    assert b"408" not in client.transport.value()
    assert client.transport.value().endswith(b"first\r\n")


# Connection limits


def test_connections_over_the_total_limit_are_refused() -> None:
    """
    A connection over C{max_connections} is answered 503 with C{Retry-After}
    and closed at once; the connections already open are untouched; a place
    freed by a closed connection is taken by the next.
    """
    site = make_site(max_connections=2, max_connections_per_client=10)
    first, second = Client(site, "10.0.0.1"), Client(site, "10.0.0.2")
    refused = Client(site, "10.0.0.3")
    assert not refused.open
    answer = refused.response()
    assert answer.status == b"HTTP/1.1 503 Service Unavailable"
    assert answer.headers[b"retry-after"] == [b"5"]
    assert answer.headers[b"connection"] == [b"close"]
    for kept in (first, second):
        assert kept.open
        assert kept.transport.value() == b""
    assert site.open_connections == 2
    first.transport.loseConnection()
    third = Client(site, "10.0.0.3")
    third.send(GET)
    assert third.code() == 200
    second.send(GET)
    assert second.code() == 200


def test_connections_over_the_per_client_limit_are_refused() -> None:
    """
    A client address with C{max_connections_per_client} connections open
    is refused another; other addresses are not, and the client gets a
    place again once one of its connections closes.
    """
    site = make_site(max_connections_per_client=2)
    mine = [Client(site), Client(site)]
    refused = Client(site)
    assert refused.code() == 503
    assert not refused.open
    other = Client(site, "10.0.0.9")
    other.send(GET)
    assert other.code() == 200
    assert all(each.open and each.transport.value() == b"" for each in mine)
    mine[0].transport.loseConnection()
    again = Client(site)
    again.send(GET)
    assert again.code() == 200


def test_unix_socket_clients_are_limited_only_in_total() -> None:
    """
    Connections without an IP address (a Unix socket's) share no
    per-client limit.
    """
    site = make_site(max_connections=3, max_connections_per_client=1)
    protocols = [site.buildProtocol(UNIXAddress(b"/sock")) for _ in range(4)]
    for protocol in protocols:
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
    assert site.open_connections == 3
    assert protocols[-1].transport.value().startswith(b"HTTP/1.1 503")


def test_a_refusal_lingers_to_be_read() -> None:
    """
    Over TCP a refused connection closes its writing side at once, drops
    what the client sends, and closes wholly after L{LINGER} seconds, so the
    client reads the 503 rather than a reset.
    """
    site = make_site(max_connections=0)
    clock = clock_of(site)
    client = Client(site, transport=HalfClosable())
    assert isinstance(client.transport, HalfClosable)
    assert client.transport.write_closed
    assert client.open
    client.send(GET)
    assert client.code() == 503
    assert client.response().body == b"too many connections; try again later\n"
    clock.advance(LINGER)
    assert not client.open


# Bodies


def record_content_files(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    original = http._getContentFile  # where a body is spooled

    def recording(length: int | None) -> Any:
        made.append(length)
        return original(length)

    monkeypatch.setattr(http, "_getContentFile", recording)
    return made


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 100000000\r\n", b"Transfer-Encoding: chunked\r\n"],
)
def test_a_body_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch, framing: bytes
) -> None:
    """
    A request with a body (by length or chunked) is answered 413 and closed
    when its head ends: no content file is made, none of the body reaches a
    request, and the application never sees it.
    """
    made = record_content_files(monkeypatch)
    resource = Echo()
    site = make_site(resource)
    client = Client(site)
    client.send(b"POST / HTTP/1.1\r\nHost: camserve\r\n" + framing + b"\r\n")
    assert client.code() == 413
    assert not client.open
    channel = client.protocol
    assert isinstance(channel, http.HTTPChannel)
    client.send(b"5\r\nhello\r\n" * 100)
    assert made == []
    assert channel.requests[-1].content is None
    assert resource.rendered == 0


def test_a_body_within_the_limit_is_taken() -> None:
    """
    With C{max_body_size}, a body up to that size reaches the application
    and a larger one is refused.
    """
    resource = Echo()
    site = make_site(resource, max_body_size=10)
    client = Client(site)
    client.send(
        b"POST / HTTP/1.1\r\nHost: camserve\r\nContent-Length: 10\r\n\r\n0123456789"
    )
    assert client.code() == 200
    assert client.response().body == b"10"
    larger = Client(site)
    larger.send(b"POST / HTTP/1.1\r\nHost: camserve\r\nContent-Length: 11\r\n\r\n")
    assert larger.code() == 413


def test_an_empty_body_is_no_body() -> None:
    """
    C{Content-Length: 0} is no body to refuse.
    """
    client = Client(make_site())
    client.send(b"GET / HTTP/1.1\r\nHost: camserve\r\nContent-Length: 0\r\n\r\n")
    assert client.code() == 200


# Heads


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: camserve\r\n\r\n", 414),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: camserve\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: camserve\r\nX-Big: " + b"a" * 1_000_000, 431),
        (b"GET / HTTP/1.1\r\n" + b"X-Many: aaaaaaaaaaaaaaaa\r\n" * 1000, 431),
        (b"GET / HTTP/1.1\r\n" + (b"X-Long: " + b"a" * 200 + b"\r\n") * 100, 431),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.0\r\nHost: camserve\r\nHost: evil\r\n\r\n", 400),
        (b"get / HTTP/1.1\r\nHost: camserve\r\n\r\n", 400),
        (b"Get / HTTP/1.1\r\nHost: camserve\r\n\r\n", 400),
        (
            (
                b"GET / HTTP/1.1\r\nHost: camserve\r\n"
                b"Authorization: Basic YTpi\r\nAuthorization: Basic Yzpk\r\n\r\n"
            ),
            400,
        ),
        (b"GET /<script> HTTP/1.1 x\r\nHost: camserve\r\n\r\n", 400),
    ],
    ids=[
        "100 KB request line",
        "9 KB request line",
        "1 MB header",
        "many headers",
        "large headers",
        "no Host",
        "two Hosts",
        "two Hosts in HTTP/1.0",
        "lowercase method",
        "mixed-case method",
        "two Authorizations",
        "unparsable",
    ],
)
def test_bad_heads_are_answered_and_closed(head: bytes, code: int) -> None:
    """
    A request line too long is answered 414, headers too large 431, an
    HTTP/1.1 request without one C{Host} 400, an ambiguous request (two
    C{Host} or C{Authorization} headers in any version, a method not in
    upper case) 400, each with a fixed body that
    echoes nothing of the request, and the connection is closed.
    """
    resource = Echo()
    client = Client(make_site(resource))
    client.send(head)
    assert client.code() == code
    assert not client.open
    answer = client.response()
    assert int(answer.headers[b"content-length"][0]) == len(answer.body)
    assert b"script" not in answer.body
    assert b"aaa" not in answer.body
    assert answer.headers[b"x-content-type-options"] == [b"nosniff"]
    assert resource.rendered == 0


def test_heads_within_the_limits_are_served() -> None:
    """
    A request line of 8 KB and an HTTP/1.0 request without C{Host} are
    served.
    """
    resource = Echo()
    site = make_site(resource)
    client = Client(site)
    client.send(b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: camserve\r\n\r\n")
    assert client.code() == 200
    old = Client(site)
    old.send(b"GET / HTTP/1.0\r\n\r\n")
    assert old.code() == 200
    assert resource.rendered == 2


def test_a_path_that_is_not_utf8_is_refused_quietly(log: LogRecorder) -> None:
    """
    A path whose percent-encoding is not UTF-8 is answered 400 before Klein
    sees it, with nothing logged as trouble.
    """
    service = CameraService(Clock())
    site = make_site(service_resource(service, Clock()))
    client = Client(site)
    client.send(b"GET /%FF%FE HTTP/1.1\r\nHost: camserve\r\n\r\n")
    assert client.code() == 400
    assert log.troubles() == []
    fine = Client(site)
    fine.send(b"GET /cameras/%C3%A9/?x=%FF HTTP/1.1\r\nHost: camserve\r\n\r\n")
    assert fine.code() == 404


@pytest.mark.parametrize(
    "target", [b"%C3%A9", b"x%A9", b"*", b"http://127.0.0.1/", b"?x=1"]
)
def test_a_target_that_is_not_a_path_is_refused_quietly(
    log: LogRecorder, target: bytes
) -> None:
    """
    A request target that does not start with C{/} (which twisted.web would
    read without its first byte, so that C{%C3%A9} reached Klein as
    C{C3\\xa9}) is answered 400 before Klein sees it, with nothing logged
    as trouble.
    """
    service = CameraService(Clock())
    client = Client(make_site(service_resource(service, Clock())))
    client.send(b"GET " + target + b" HTTP/1.1\r\nHost: camserve\r\n\r\n")
    assert client.code() == 400
    assert not client.open
    assert log.troubles() == []


# The Host header, against DNS rebinding


@pytest.mark.parametrize(
    "host",
    [
        b"127.0.0.1",
        b"127.0.0.1:8080",
        b"192.168.1.20",
        b"192.168.1.20:80",
        b"[::1]",
        b"[::1]:8080",
        b"[FE80::1]:8080",
        b"localhost",
        b"LocalHost:8080",
        b"localhost.",
    ],
)
def test_ip_addresses_and_localhost_need_no_setting(host: bytes) -> None:
    """
    A request naming an IPv4 address, an IPv6 address in brackets or
    C{localhost}, with or without a port, is served by a site that allows
    no host names.
    """
    resource = Echo()
    client = Client(make_site(resource, allowed_hosts=()))
    client.send(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert client.code() == 200
    assert resource.rendered == 1


@pytest.mark.parametrize(
    "host", [b"cam.example.org", b"Cam.Example.ORG:8443", b"cam.example.org."]
)
def test_allowed_host_names_are_served_in_any_case(host: bytes) -> None:
    """
    A request naming one of the site's allowed host names, in any case, with
    or without a port or a final dot, is served.
    """
    resource = Echo()
    client = Client(make_site(resource, allowed_hosts=["CAM.example.org"]))
    client.send(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert client.code() == 200
    assert resource.rendered == 1


@pytest.mark.parametrize(
    "host",
    [
        b"rebind.attacker.example",
        b"rebind.attacker.example:8080",
        b"camserve",
        b"cam.example.org.attacker.example",
        b"localhost.attacker.example",
        b"127.0.0.1.nip.io",
        b"::1",
        b"[127.0.0.1]",
        b"127.1",
        b"0x7f000001",
        b"127.0.0.1:80:80",
        b"127.0.0.1:http",
        b"[::1",
        b"[::1]x",
        b"",
        b":8080",
        b"caf\xc3\xa9.example",
    ],
)
def test_other_hosts_are_misdirected(host: bytes) -> None:
    """
    A request naming any other host, or a C{Host} that is not a host and
    port, is answered C{421} with a fixed body that echoes nothing of the
    request, never reaches the application, and its connection is closed:
    a rebinding page's own name is refused.
    """
    resource = Echo()
    client = Client(make_site(resource, allowed_hosts=["cam.example.org"]))
    client.send(b"GET /<script> HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert client.code() == 421
    answer = client.response()
    assert answer.status == b"HTTP/1.1 421 Misdirected Request"
    assert answer.body == b"this server does not answer to that host name\n"
    assert answer.headers[b"x-content-type-options"] == [b"nosniff"]
    assert not client.open
    assert resource.rendered == 0


def test_a_request_without_host_is_not_misdirected() -> None:
    """
    An HTTP/1.0 request without C{Host}, which no browser sends, is served
    by a site that allows no host names.
    """
    resource = Echo()
    client = Client(make_site(resource, allowed_hosts=()))
    client.send(b"GET / HTTP/1.0\r\n\r\n")
    assert client.code() == 200
    assert resource.rendered == 1


def test_a_misdirected_request_on_a_kept_connection_is_not_served() -> None:
    """
    A second request on a persistent connection naming another host is
    answered C{421} after the first, allowed one was served.
    """
    resource = Echo()
    client = Client(make_site(resource, allowed_hosts=()))
    client.send(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: rebind.attacker.example\r\n\r\n"
    )
    assert b"HTTP/1.1 421 Misdirected Request" in client.transport.value()
    assert resource.rendered == 1
    assert not client.open


# Response headers


@pytest.fixture
def pages() -> CamserveSite:
    """
    A site serving a service with one camera, C{front}, that has a frame.
    """
    clock = Clock()
    service = CameraService(clock)
    source = PushSource()
    service.add_source("front", source)
    return CamserveSite(
        service_resource(service, clock), clock, allowed_hosts=["camserve"]
    )


@pytest.mark.parametrize("path", [b"/", b"/cameras/front/"])
def test_html_pages_carry_the_policy(pages: CamserveSite, path: bytes) -> None:
    """
    camserve's HTML pages carry the Content-Security-Policy,
    C{X-Frame-Options: DENY}, C{Referrer-Policy: no-referrer} and
    C{nosniff}, and no C{Server} header.
    """
    client = Client(pages)
    client.send(b"GET " + path + b" HTTP/1.1\r\nHost: camserve\r\n\r\n")
    answer = client.response()
    assert answer.status == b"HTTP/1.1 200 OK"
    assert answer.headers[b"content-security-policy"] == [CONTENT_SECURITY_POLICY]
    assert answer.headers[b"x-frame-options"] == [b"DENY"]
    assert answer.headers[b"referrer-policy"] == [b"no-referrer"]
    assert answer.headers[b"x-content-type-options"] == [b"nosniff"]
    assert b"server" not in answer.headers


@pytest.mark.parametrize(
    "path", [b"/api/cameras", b"/static/camserve.css", b"/nowhere", b"/cameras/x/"]
)
def test_every_answer_is_nosniff_without_server(
    pages: CamserveSite, path: bytes
) -> None:
    """
    Every answer, found or not, has C{X-Content-Type-Options: nosniff} and
    no C{Server} header.
    """
    client = Client(pages)
    client.send(b"GET " + path + b" HTTP/1.1\r\nHost: camserve\r\n\r\n")
    answer = client.response()
    assert answer.headers[b"x-content-type-options"] == [b"nosniff"]
    assert b"server" not in answer.headers
    assert b"TwistedWeb" not in client.transport.value()


# Over real sockets


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_all(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        received = sock.recv(65536)
        if not received:
            return data
        data += received
    raise TimeoutError(f"still open: {data!r}")


def frames(
    sock: socket.socket, parser: MultipartParser, count: int, start: bytes = b""
) -> list[Part]:
    """
    At least C{count} parts of the stream on C{sock}, parsed by C{parser}
    (which keeps its place between calls) from C{start} and then C{sock}.
    """
    deadline = time.monotonic() + 10
    parts = parser.feed(start)
    while len(parts) < count:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        received = sock.recv(65536)
        assert received, f"the stream ended after {len(parts)} parts"
        parts += parser.feed(received)
    return parts


def slow_client_dropped(port: int) -> bytes:
    """
    Trickle a head into a connection on C{port} until the server closes it;
    what it answered.
    """
    sock = connect(port)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: camserve\r\n")
    deadline = time.monotonic() + 10
    data = b""
    try:
        while time.monotonic() < deadline:
            sock.settimeout(0.1)
            try:
                received = sock.recv(65536)
            except TimeoutError:
                sock.sendall(b"X")
                continue
            if not received:
                return data
            data += received
    finally:
        sock.close()
    raise TimeoutError(f"still open: {data!r}")


@reactor_test
async def test_a_watching_viewer_outlives_slow_clients_and_refusals() -> None:
    """
    Over real sockets with a per-client limit of 3 and a header timeout of
    0.5 s: slow-header clients are dropped with 408, a connection over the
    limit is refused 503, and a viewer already watching keeps receiving
    frames throughout.
    """
    service = CameraService(reactor)
    jpegs = [make_jpeg(number, 64, 48) for number in range(3)]
    service.add_camera("front", ScriptedCamera(jpegs, fps=20))
    service.startService()
    site = CamserveSite(
        service_resource(service, reactor),
        reactor,
        header_timeout=0.5,
        max_connections_per_client=3,
    )
    port: Any = reactor.listenTCP(0, cast("Any", site), interface="127.0.0.1")
    number = port.getHost().port
    viewer = connect(number)
    try:
        send_get(viewer, "/cameras/front/video_feed")
        head = await deferToThread(read_head, viewer, time.monotonic() + 10)
        assert head.status.startswith(b"HTTP/1.1 200")
        parser = MultipartParser()
        assert len(await deferToThread(frames, viewer, parser, 2, head.body)) >= 2
        started = time.monotonic()
        slow = [deferToThread(slow_client_dropped, number) for _ in range(2)]
        await wait_until(lambda: site.open_connections == 3, "the slow clients join")
        refused = connect(number)
        send_get(refused, "/")
        answer = await deferToThread(read_all, refused, time.monotonic() + 10)
        refused.close()
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"\r\nRetry-After: 5\r\n" in answer
        for each in slow:
            assert (await each).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert time.monotonic() - started < 5
        parts = await deferToThread(frames, viewer, parser, 5)
        assert len(parts) >= 5
        assert {part.headers["content-type"] for part in parts} == {"image/jpeg"}
    finally:
        viewer.close()
        stopped = service.stopService()
        if stopped is not None:
            await stopped
        await port.stopListening()
        await wait_until(lambda: site.open_connections == 0, "connections close")


# Behind a reverse proxy


class Peers(Resource):
    """
    Answers with the client address and scheme each request is served for,
    and keeps every request it was asked, unanswered, with C{?hold}.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.held: list[Request] = []

    def render_GET(self, request: Request) -> object:
        address = request.getClientAddress()
        scheme = b"https" if request.isSecure() else b"http"
        if b"hold" in (request.args or {}):
            self.held.append(request)
            request.write(b"held")
            return NOT_DONE_YET
        return getattr(address, "host", "?").encode("ascii") + b" " + scheme


def forwarded(client: str | None, extra: bytes = b"", path: bytes = b"/") -> bytes:
    head = b"GET " + path + b" HTTP/1.1\r\nHost: camserve\r\n"
    if client is not None:
        head += b"X-Forwarded-For: " + client.encode("ascii") + b"\r\n"
    return head + extra + b"\r\n"


def proxied_site(resource: IResource, **limits: Any) -> CamserveSite:
    proxies = TrustedProxies(parse_networks(["127.0.0.1", "10.1.0.0/16"]))
    return make_site(resource, trusted_proxies=proxies, **limits)


@pytest.mark.parametrize(
    ("header", "client"),
    [
        (b"203.0.113.5", b"203.0.113.5"),
        (b"198.51.100.1, 203.0.113.5", b"203.0.113.5"),
        (b"198.51.100.1, 203.0.113.5, 10.1.2.3", b"203.0.113.5"),
        (b"203.0.113.5:4711", b"203.0.113.5"),
        (b"[2001:db8::1]:4711", b"2001:db8::1"),
        (b"2001:db8::1", b"2001:db8::1"),
        (b"10.1.2.3", b"127.0.0.1"),
    ],
)
def test_a_trusted_proxy_names_the_client(header: bytes, client: bytes) -> None:
    """
    From a trusted proxy, a request's client is the last address of
    C{X-Forwarded-For} that is not a trusted proxy's (the one the proxy
    added; those before it could be anything the client sent), or the
    proxy itself if there is none.
    """
    client_of = Client(proxied_site(Peers()))
    client_of.send(forwarded(header.decode("ascii")))
    assert client_of.response().body == client + b" http"


def test_an_untrusted_peer_cannot_forward() -> None:
    """
    From any other address, C{X-Forwarded-For} and C{X-Forwarded-Proto} are
    ignored: the client is the peer.
    """
    client = Client(proxied_site(Peers()), "192.0.2.7")
    client.send(forwarded("203.0.113.5", b"X-Forwarded-Proto: https\r\n"))
    assert client.response().body == b"192.0.2.7 http"


def test_a_trusted_proxy_names_the_scheme() -> None:
    """
    A trusted proxy's C{X-Forwarded-Proto: https} makes the request secure,
    as the client's request to the proxy was; a scheme that is neither
    C{http} nor C{https} is refused 400.
    """
    site = proxied_site(Peers())
    secure = Client(site)
    secure.send(forwarded("203.0.113.5", b"X-Forwarded-Proto: https\r\n"))
    assert secure.response().body == b"203.0.113.5 https"
    odd = Client(site)
    odd.send(forwarded("203.0.113.5", b"X-Forwarded-Proto: gopher\r\n"))
    assert odd.code() == 400


@pytest.mark.parametrize("header", ["unknown", "203.0.113.5, garbage", "_hidden"])
def test_a_forwarded_client_that_is_not_an_address_is_refused(header: str) -> None:
    """
    A trusted proxy's C{X-Forwarded-For} whose client entry is not an IP
    address is answered 400, not served as if from the proxy.
    """
    resource = Peers()
    client = Client(proxied_site(resource))
    client.send(forwarded(header))
    assert client.code() == 400
    assert not client.open


def test_forwarded_clients_have_their_own_limits() -> None:
    """
    Connections from a trusted proxy are not limited as one client: each
    request counts for its forwarded client while it lasts, a client over
    its limit is answered 503, other clients through the same proxy are
    served, and a finished request frees its client's place.
    """
    resource = Peers()
    site = proxied_site(resource, max_connections_per_client=2)
    held = [Client(site) for _ in range(3)]
    for each in held[:2]:
        each.send(forwarded("203.0.113.5", path=b"/?hold=1"))
    assert len(resource.held) == 2
    held[2].send(forwarded("203.0.113.5", path=b"/?hold=1"))
    assert held[2].code() == 503
    assert held[2].response().headers[b"retry-after"] == [b"5"]
    other = Client(site)
    other.send(forwarded("198.51.100.9"))
    assert other.response().body == b"198.51.100.9 http"
    resource.held[0].finish()
    again = Client(site)
    again.send(forwarded("203.0.113.5"))
    assert again.response().body == b"203.0.113.5 http"
    held[1].transport.loseConnection()
    assert site.open_connections == 3
    # Every place of the client's is free again.
    assert site.take_client("203.0.113.5")
    assert site.take_client("203.0.113.5")


# What the site reads of twisted.web


def test_the_request_line_is_read_where_twisted_keeps_it() -> None:
    """
    The request line of a request whose head is whole is where
    L{camserve.access._twisted_web} reads it: if a Twisted release keeps it
    elsewhere, this fails rather than the site's checks going blind.
    """
    seen: list[tuple[bytes, bytes, bytes]] = []

    class Watching(CamserveChannel):
        def allHeadersReceived(self) -> None:
            seen.append(request_line(self))
            super().allHeadersReceived()

    site = make_site(max_body_size=10)
    site.protocol = Watching
    client = Client(site)
    client.send(
        b"POST /path?x=1 HTTP/1.1\r\nHost: camserve\r\nContent-Length: 2\r\n\r\n"
    )
    assert seen == [(b"POST", b"/path?x=1", b"HTTP/1.1")]
    client.send(b"ok")
    assert client.code() == 200
