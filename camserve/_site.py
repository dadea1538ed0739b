# -*- test-case-name: tests.test_site,tests.test_http2 -*-
"""
camserve's HTTP server: a twisted.web L{Site} hardened against clients that
hold connections without asking for anything, send what no route takes, or
send what the application should never see.

A connection must send its whole request head (the request line and the
headers) within the header timeout, however slowly its bytes trickle in.
Connections are limited in total and per client address: a connection over
a limit is answered C{503} with C{Retry-After} and closed, so that viewers
already watching are never closed to make room. Bodies, heads too large,
HTTP/1.1 requests without C{Host}, targets other than a path and paths that
are not UTF-8 are answered before the application sees them, and so is a C{Host} that is neither an IP
address, C{localhost} nor one of the site's allowed names (C{421}): a page
of another site that points its own name at camserve's address (DNS
rebinding) is refused, while camserve reached by address needs no setting.
Every answer goes without a C{Server}
header and with C{X-Content-Type-Options: nosniff}; HTML pages also carry a
Content-Security-Policy, C{X-Frame-Options: DENY} and
C{Referrer-Policy: no-referrer}.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from twisted.internet.protocol import Protocol
from twisted.web.http import HTTPChannel, combinedLogFormatter
from twisted.web.server import Site

from ._tokens import scrub

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
    from twisted.python.failure import Failure
    from twisted.web.http_headers import Headers
    from twisted.web.resource import IResource

CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'; "
    b"base-uri 'none'; form-action 'self'"
)
"""The policy of camserve's HTML pages: only their own scripts, styles and
fetches; images also from C{blob:} and C{data:} URLs; never framed."""

LINGER = 2.0
"""Seconds a connection answered with an error stays open to read (and
drop) what its client is still sending, so that closing it does not reset
the connection before the client reads the answer."""

_SECURITY_HEADERS = ((b"X-Content-Type-Options", b"nosniff"),)
_HTML_HEADERS = (
    (b"Content-Security-Policy", CONTENT_SECURITY_POLICY),
    (b"X-Frame-Options", b"DENY"),
    # A page opened with an API token has it in its address: no request
    # of the page tells anyone that address.
    (b"Referrer-Policy", b"no-referrer"),
)
_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    421: b"Misdirected Request",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}
_MESSAGES = {
    400: b"bad request",
    408: b"the request took too long to arrive",
    413: b"this server takes no request body here",
    414: b"the request line is too long",
    421: b"this server does not answer to that host name",
    431: b"the request's headers are too large",
    503: b"too many connections; try again later",
}


def error_answer(code: int, extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """
    A complete HTTP/1.1 answer with status C{code} and a fixed short body
    that echoes nothing of the request, saying the connection closes.
    """
    body = _MESSAGES[code] + b"\n"
    headers = (
        (b"Content-Type", b"text/plain; charset=utf-8"),
        (b"Content-Length", str(len(body)).encode("ascii")),
        (b"Connection", b"close"),
        (b"Cache-Control", b"no-store"),
        *_SECURITY_HEADERS,
        *extra,
    )
    lines = [b"HTTP/1.1 %d %s" % (code, _REASONS[code])]
    lines.extend(name + b": " + value for name, value in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _host_name(host: bytes) -> str | None:
    """
    The name or address in the C{Host} header value C{host}, lowercased and
    without its port (an IPv6 address keeps its brackets); C{None} if
    C{host} is not a host with an optional port.
    """
    try:
        text = host.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        name, _, port = text.partition(":")
    if not name or not (port == "" or port.isdigit()):
        return None
    return name


def _is_ip_literal(name: str) -> bool:
    """
    Whether the host C{name} is an IPv4 address, or an IPv6 address in
    brackets.
    """
    bracketed = name.startswith("[") and name.endswith("]")
    try:
        address = ipaddress.ip_address(name[1:-1] if bracketed else name)
    except ValueError:
        return False
    return address.version == (6 if bracketed else 4)


class _Answering:
    """
    Answers a connection with an error and closes it after a linger: the
    write side at once (where the transport can half-close), the whole
    connection when the client closes its side or after L{LINGER} seconds.
    Whatever the client sends meanwhile is dropped unread by the protocol.
    """

    transport: Any
    _clock: IReactorTime
    answered = False
    _linger_call: IDelayedCall | None = None

    def answer_and_close(
        self, code: int, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        """
        Write the answer C{code} and close the connection.
        """
        if self.answered:
            return
        self.answered = True
        self.transport.write(error_answer(code, extra))
        close_writing = getattr(self.transport, "loseWriteConnection", None)
        if close_writing is None:
            self._close()
            return
        close_writing()
        self._linger_call = self._clock.callLater(LINGER, self._close)

    def _close(self) -> None:
        self._linger_call = None
        self.transport.loseConnection()

    def stop_lingering(self) -> None:
        """
        Forget the linger: the connection is gone.
        """
        if self._linger_call is not None and self._linger_call.active():
            self._linger_call.cancel()
        self._linger_call = None


class _Refusal(_Answering, Protocol):
    """
    A connection over one of the site's limits: answered C{503} with
    C{Retry-After} at once, whatever it asks, and closed.
    """

    def __init__(self, clock: IReactorTime, retry_after: int) -> None:
        self._clock = clock
        self._retry_after = retry_after

    def connectionMade(self) -> None:
        """
        Refuse the connection.
        """
        retry = str(self._retry_after).encode("ascii")
        self.answer_and_close(503, ((b"Retry-After", retry),))

    def dataReceived(self, data: bytes) -> None:
        """
        Drop what the client sends.
        """

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: ARG002 - IProtocol's signature
        """
        Forget the linger.
        """
        self.stop_lingering()


class CamserveChannel(_Answering, HTTPChannel):
    """
    An HTTP/1.1 connection of a L{CamserveSite}, which enforces its limits
    on each request head before the request reaches the application.
    """

    factory: CamserveSite
    _head_call: IDelayedCall | None = None
    _client: str | None = None
    _in_request_line = True
    _head_size = 0
    _head_lines = 0

    def connectionMade(self) -> None:
        """
        Start waiting for the first request head.
        """
        self._clock = self.factory.reactor
        # Lines longer than either limit are refused by lineLengthExceeded,
        # heads larger than the site's by lineReceived.
        self.MAX_LENGTH = max(self.factory.max_request_line, self.factory.max_head_size)
        self.totalHeadersSize = self.factory.max_head_size
        super().connectionMade()
        self._wait_for_head()

    def connectionLost(self, reason: Failure | None = None) -> None:
        """
        Free the connection's place under the site's limits.
        """
        self._stop_waiting()
        self.stop_lingering()
        self.factory.closed(self._client)
        super().connectionLost(reason)

    def dataReceived(self, data: bytes) -> None:
        """
        Parse C{data}, unless the connection has been answered with an
        error, after which anything the client sends is dropped.
        """
        if not self.answered:
            super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        """
        Check the size of the head, and its number of lines, as each line
        arrives and before it is parsed.
        """
        if self.answered:
            return
        if self._in_request_line and line:
            self._in_request_line = False
            if len(line) > self.factory.max_request_line:
                self.answer_and_close(414)
                return
        self._head_size += len(line) + 2
        self._head_lines += 1
        if (
            self._head_size > self.factory.max_head_size
            or self._head_lines > self.maxHeaders
        ):
            self.answer_and_close(431)
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:  # noqa: ARG002 - LineReceiver's signature
        """
        A line longer than any head may hold: the request line is too long
        (C{414}) or the headers are too large (C{431}).
        """
        self.answer_and_close(414 if self._in_request_line else 431)

    def _respondToBadRequestAndDisconnect(self) -> None:
        """
        Answer a request HTTPChannel cannot parse with C{400}, with this
        site's headers, and close.
        """
        self.answer_and_close(400)

    def rawDataReceived(self, data: bytes) -> None:
        """
        Receive a body or buffer pipelined requests, unless answered.
        """
        if not self.answered:
            super().rawDataReceived(data)

    def allHeadersReceived(self) -> None:
        """
        The head is complete in time: stop its timer, and answer here what
        the application must not see: a body larger than the site allows
        (C{413}, before any of it is read), an HTTP/1.1 request without one
        C{Host} (C{400}), a path whose percent-encoding is not UTF-8
        (C{400}).
        """
        self._stop_waiting()
        request = self.requests[-1]
        headers = request.requestHeaders
        if self.length is None or self.length > self.factory.max_body_size:
            self.answer_and_close(413)
            return
        if (
            self._version == b"HTTP/1.1"
            and len(headers.getRawHeaders(b"host", [])) != 1
        ):
            self.answer_and_close(400)
            return
        hosts = headers.getRawHeaders(b"host", [])
        if hosts and not self.factory.answers_to(hosts[0]):
            self.answer_and_close(421)
            return
        path = self._path.split(b"?", 1)[0]
        if not path.startswith(b"/"):
            # twisted.web takes a path's first byte for its slash: the rest
            # of C{*}, C{http://host/path} or C{%C3%A9} would be misread.
            self.answer_and_close(400)
            return
        try:
            unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            self.answer_and_close(400)
            return
        super().allHeadersReceived()

    def allContentReceived(self) -> None:
        """
        The request is complete: the next line is the next request's. A
        request answered with an error is not handed on.
        """
        if self.answered:
            return
        self._in_request_line = True
        self._head_size = 0
        self._head_lines = 0
        super().allContentReceived()

    def requestDone(self, request: Any) -> None:
        """
        A request is answered: on a persistent connection, the next request
        head must arrive within the header timeout too.
        """
        if self.persistent:
            self._wait_for_head()
        super().requestDone(request)

    def writeHeaders(
        self, version: bytes, code: bytes, reason: bytes, headers: Headers
    ) -> None:
        """
        Write a response's headers without C{Server}, with
        C{X-Content-Type-Options}, and for HTML with the page's
        Content-Security-Policy, C{X-Frame-Options} and C{Referrer-Policy}.
        """
        headers.removeHeader(b"server")
        added: tuple[tuple[bytes, bytes], ...] = _SECURITY_HEADERS
        content_type = headers.getRawHeaders(b"content-type", [b""])[0]
        if content_type.lower().startswith(b"text/html"):
            added += _HTML_HEADERS
        for name, value in added:
            headers.setRawHeaders(name, [value])
        super().writeHeaders(version, code, reason, headers)

    def _wait_for_head(self) -> None:
        self._stop_waiting()
        self._head_call = self._clock.callLater(
            self.factory.header_timeout, self._head_too_slow
        )

    def _stop_waiting(self) -> None:
        if self._head_call is not None and self._head_call.active():
            self._head_call.cancel()
        self._head_call = None

    def _head_too_slow(self) -> None:
        self._head_call = None
        self.answer_and_close(408)


class _Scrubbed:
    """
    A request as the access log sees it: its URI and C{Referer} without the
    value of any C{token} query argument, which stands for a login.
    """

    def __init__(self, request: Any) -> None:
        self._request = request
        self.uri = scrub(request.uri)

    def getHeader(self, name: bytes) -> bytes | None:
        """
        The request's header C{name}, a C{Referer} scrubbed.
        """
        value: bytes | None = self._request.getHeader(name)
        if value is not None and name.lower() == b"referer":
            return scrub(value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def access_log_line(timestamp: str, request: Any) -> str:
    """
    The access log's line for C{request}, in the combined log format, with
    no token in it.
    """
    line: str = combinedLogFormatter(timestamp, _Scrubbed(request))
    return line


class CamserveSite(Site):
    """
    A L{Site} whose connections are L{CamserveChannel}s, with limits on
    connections and on each request's head and body.

    @ivar header_timeout: seconds from a connection's start, or from the end
        of its previous answer, within which a whole request head must
        arrive; a connection too slow is answered C{408} and closed. It also
        bounds how long a persistent connection may sit idle.
    @ivar max_connections: connections open at once; more are refused.
    @ivar max_connections_per_client: connections open at once from one
        client address; more from it are refused.
    @ivar max_body_size: the largest request body taken, in bytes; a larger
        or chunked body is answered C{413} before it is read.
    @ivar max_request_line: the longest request line, in bytes.
    @ivar max_head_size: the largest request head (request line and
        headers), in bytes.
    @ivar retry_after: seconds a refused client is told to wait.

    The access log leaves out the value of any C{token} query argument
    (an API token), in the URI and in C{Referer}.
    @ivar allowed_hosts: the host names, besides C{localhost} and IP
        addresses, that requests may name in C{Host}, lowercased; a request
        naming another is answered C{421}. Requests without C{Host} (HTTP/1.0)
        are served: browsers always send it.
    """

    protocol = CamserveChannel  # type: ignore[assignment]  # Site's is a factory function
    reactor: Any

    def __init__(
        self,
        resource: IResource,
        reactor: IReactorTime,
        *,
        header_timeout: float = 10.0,
        max_connections: int = 1000,
        max_connections_per_client: int = 50,
        max_body_size: int = 0,
        max_request_line: int = 8192,
        max_head_size: int = 16384,
        retry_after: int = 5,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        super().__init__(resource, reactor=reactor, logFormatter=access_log_line)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.max_connections_per_client = max_connections_per_client
        self.max_body_size = max_body_size
        self.max_request_line = max_request_line
        self.max_head_size = max_head_size
        self.retry_after = retry_after
        self.allowed_hosts = frozenset(
            name.lower().rstrip(".") for name in allowed_hosts
        )
        self._per_client: Counter[str | None] = Counter()
        self._open = 0

    @property
    def open_connections(self) -> int:
        """
        How many connections are open and counted, in total.
        """
        return self._open

    def answers_to(self, host: bytes) -> bool:
        """
        Whether a request whose C{Host} header is C{host} is for this site:
        its host, without the port, is an IPv4 address, an IPv6 address in
        brackets, C{localhost}, or one of L{allowed_hosts} (in any case, with
        or without a final dot).
        """
        name = _host_name(host)
        if name is None:
            return False
        if _is_ip_literal(name):
            return True
        name = name.removesuffix(".")
        return name == "localhost" or name in self.allowed_hosts

    def acceptableProtocols(self) -> list[bytes]:
        """
        The protocols offered to TLS clients by ALPN: HTTP/1.1 only, even
        where Twisted could speak HTTP/2 (the C{h2} package installed), for
        which L{twisted.web.server.Site} offers C{h2} first.

        L{CamserveChannel} cannot speak HTTP/2 (it would answer the HTTP/2
        preface C{400}); Twisted's switching channel, which C{Site} uses,
        runs Twisted's own C{H2Connection} in its place once C{h2} is
        chosen, so none of this site's checks apply (C{Host},
        C{421}, head and body limits, the C{Server} header and the pages'
        security headers), the channel's header timer still fires and
        writes an HTTP/1.1 C{408} into the HTTP/2 connection, and the
        connection never frees its place under the limits. Streams lose
        their bound on what waits for a slow viewer: a stream is paused
        only when the client's flow-control window is spent, which the
        client sizes (Chromium: 6 MB), so a viewer is sent every frame until
        then, and one that stops reading its socket is never paused, never
        dropped by the stall watchdog and grows the server's memory by the
        stream's bitrate. One connection also carries up to 100 streams,
        past the per-client limit. The measurements: docs/http.md.
        """
        return [b"http/1.1"]

    def buildProtocol(self, addr: IAddress | None) -> Any:
        """
        A channel for a connection from C{addr}, or a L{_Refusal} if it
        would exceed a limit. A client address is an IP address; clients
        without one (a Unix socket's) are limited only in total.
        """
        client = getattr(addr, "host", None)
        if self._open >= self.max_connections or (
            client is not None
            and self._per_client[client] >= self.max_connections_per_client
        ):
            refusal = _Refusal(self.reactor, self.retry_after)
            refusal.factory = self
            return refusal
        channel = super().buildProtocol(addr)
        channel._client = client  # noqa: SLF001 - set by its own module
        self._opened(client)
        return channel

    def _opened(self, client: str | None) -> None:
        """
        Count a new connection from C{client}.
        """
        self._open += 1
        if client is not None:
            self._per_client[client] += 1

    def closed(self, client: str | None) -> None:
        """
        Free the place of a connection from C{client}.
        """
        self._open -= 1
        if client is not None:
            self._per_client[client] -= 1
            if not self._per_client[client]:
                del self._per_client[client]
