# -*- test-case-name: tests.test_site,tests.test_site_tls,tests.test_nginx -*-
"""
camserve's HTTP server: a twisted.web L{Site} hardened against clients that
hold connections without asking for anything, send what no route takes, or
send what the application should never see.

A connection must send its whole request (the request line, the headers
and any body) within the request timeout, however slowly its bytes trickle
in; over TLS, the handshake counts too. Connections are limited in total
and per client address: a connection over a limit is answered C{503} with
C{Retry-After} and closed, so that viewers already watching are never
closed to make room. Bodies too large, heads too large, HTTP/1.1 requests
without C{Host}, ambiguous requests (a method not in upper case, two
C{Host} or two C{Authorization} headers), targets other than a path and
paths that are not UTF-8 are answered before the application sees them,
and so is a C{Host} that is neither an IP address, C{localhost} nor one of
the site's allowed names (C{421}): a page of another site that points its
own name at camserve's address (DNS rebinding) is refused, while camserve
reached by address needs no setting. Every answer goes without a C{Server}
header and with C{X-Content-Type-Options: nosniff}; HTML pages also carry a
Content-Security-Policy, C{X-Frame-Options: DENY} and
C{Referrer-Policy: no-referrer}.

Behind a reverse proxy every connection comes from the proxy: for a
connection from one of the site's trusted proxies, a request's client is
the one named by C{X-Forwarded-For} (and its scheme C{X-Forwarded-Proto}'s),
which the logs, the login throttle and the per-client limit then use.
"""

from __future__ import annotations

import re
from collections import Counter
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from twisted.web.http import HTTPChannel
from twisted.web.server import Site

from camserve.access._access_log import access_log_line
from camserve.access._answers import SECURITY_HEADERS, Answering, Refusal
from camserve.access._host_names import answers_to
from camserve.access._proxies import (
    CamserveRequest,
    ForwardedForError,
    TrustedProxies,
    take_forwarded,
)
from camserve.access._twisted_web import request_line

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

_HTML_HEADERS = (
    (b"Content-Security-Policy", CONTENT_SECURITY_POLICY),
    (b"X-Frame-Options", b"DENY"),
    # A page opened with an API token has it in its address: no request
    # of the page tells anyone that address.
    (b"Referrer-Policy", b"no-referrer"),
)
_METHOD = re.compile(rb"[A-Z][A-Z0-9_-]*")
"""A method as clients send it: upper case (methods are case-sensitive, and
C{get} would be served as C{GET} by some routes and refused by others)."""
_SINGLE_HEADERS = (b"host", b"authorization")
"""Headers a request may send once at most: with two, one check could read
one and the application the other."""


class CamserveChannel(Answering, HTTPChannel):
    """
    An HTTP/1.1 connection of a L{CamserveSite}, which enforces its limits
    on each request before the request reaches the application.
    """

    factory: CamserveSite
    _request_call: IDelayedCall | None = None
    _client: str | None = None
    _forwarded: str | None = None
    _proxied = False
    _in_request_line = True
    _head_size = 0
    _head_lines = 0

    def connectionMade(self) -> None:
        """
        Start waiting for the first request.
        """
        self._clock = self.factory.reactor
        # Lines longer than either limit are refused by lineLengthExceeded,
        # heads larger than the site's by lineReceived.
        self.MAX_LENGTH = max(self.factory.max_request_line, self.factory.max_head_size)
        self.totalHeadersSize = self.factory.max_head_size
        super().connectionMade()
        self._wait_for_request()

    def connectionLost(self, reason: Failure | None = None) -> None:
        """
        Free the connection's place under the site's limits.
        """
        self._stop_waiting()
        self.stop_lingering()
        self._forget_forwarded()
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
        The head is complete: answer here what the application must not
        see: a body larger than the site allows (C{413}, before any of it
        is read), an HTTP/1.1 request without one C{Host}, an ambiguous
        request, a path whose percent-encoding is not UTF-8 (C{400}), a
        C{Host} of another site (C{421}), a forwarded client over the
        per-client limit (C{503}). The body, if any, must still arrive
        before the request timeout.
        """
        request = self.requests[-1]
        headers = request.requestHeaders
        code = self._refusal(headers)
        if code is None:
            code = self._take_forwarded(request)
        if code is not None:
            retry = str(self.factory.retry_after).encode("ascii")
            busy = code == HTTPStatus.SERVICE_UNAVAILABLE
            self.answer_and_close(code, ((b"Retry-After", retry),) if busy else ())
            return
        super().allHeadersReceived()

    def _refusal(self, headers: Headers) -> int | None:
        """
        The code a request with C{headers} is refused with, before it
        reaches the application; L{None} to serve it.
        """
        if self.length is None or self.length > self.factory.max_body_size:
            return 413
        hosts = headers.getRawHeaders(b"host", [])
        command, target, version = request_line(self)
        if (
            not _METHOD.fullmatch(command)
            or any(len(headers.getRawHeaders(name, [])) > 1 for name in _SINGLE_HEADERS)
            or (version == b"HTTP/1.1" and not hosts)
        ):
            return 400
        if hosts and not answers_to(hosts[0], self.factory.allowed_hosts):
            return 421
        path = target.split(b"?", 1)[0]
        if not path.startswith(b"/"):
            # twisted.web takes a path's first byte for its slash: the rest
            # of C{*}, C{http://host/path} or C{%C3%A9} would be misread.
            return 400
        try:
            unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            return 400
        return None

    def _take_forwarded(self, request: Any) -> int | None:
        """
        On a connection from a trusted proxy, make the client and scheme of
        C{request} those the proxy gives (in C{X-Forwarded-For} and
        C{X-Forwarded-Proto}, or in the PROXY protocol's header, which
        Twisted's C{haproxy:} endpoint makes the connection's peer), and
        count the client under the per-client limit while the request
        lasts; the code to refuse the request with, if any.
        """
        if not self._proxied:
            return None
        peer = self._peer_host
        try:
            client = take_forwarded(request, self.factory.trusted_proxies, peer)
        except ForwardedForError:
            return 400
        if client is None:
            # The PROXY protocol named a client that is no proxy.
            client = peer
        if client is None:
            return None
        if not self.factory.take_client(client):
            return 503
        self._forwarded = client
        return None

    @property
    def _peer_host(self) -> str | None:
        return getattr(self.transport.getPeer(), "host", None)

    def _forget_forwarded(self) -> None:
        if self._forwarded is not None:
            self.factory.closed_client(self._forwarded)
            self._forwarded = None

    def allContentReceived(self) -> None:
        """
        The request is complete and in time: the next line is the next
        request's. A request answered with an error is not handed on.
        """
        if self.answered:
            return
        self._stop_waiting()
        self._in_request_line = True
        self._head_size = 0
        self._head_lines = 0
        super().allContentReceived()

    def requestDone(self, request: Any) -> None:
        """
        A request is answered: its forwarded client no longer counts, and
        on a persistent connection the next request must arrive within the
        request timeout too.
        """
        self._forget_forwarded()
        if self.persistent:
            self._wait_for_request()
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
        added: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS
        content_type = headers.getRawHeaders(b"content-type", [b""])[0]
        if content_type.lower().startswith(b"text/html"):
            added += _HTML_HEADERS
        for name, value in added:
            headers.setRawHeaders(name, [value])
        super().writeHeaders(version, code, reason, headers)

    def _wait_for_request(self) -> None:
        self._stop_waiting()
        self._request_call = self._clock.callLater(
            self.factory.header_timeout, self._request_too_slow
        )

    def _stop_waiting(self) -> None:
        if self._request_call is not None and self._request_call.active():
            self._request_call.cancel()
        self._request_call = None

    def _request_too_slow(self) -> None:
        self._request_call = None
        if self.over_tls and not self.handshake_done:
            # Not even the handshake came: no answer could reach the client.
            self.answered = True
            self.transport.abortConnection()
            return
        self.answer_and_close(408)


class CamserveSite(Site):
    """
    A L{Site} whose connections are L{CamserveChannel}s, with limits on
    connections and on each request.

    @ivar header_timeout: seconds from a connection's start (its TLS
        handshake included), or from the end of its previous answer, within
        which a whole request (head and body) must arrive; a connection too
        slow is answered C{408} and closed (over TLS, closed at once if its
        handshake is not done). It also bounds how long a persistent
        connection may sit idle.
    @ivar max_connections: connections open at once; more are refused.
    @ivar max_connections_per_client: connections open at once from one
        client address; more from it are refused. Connections from a trusted
        proxy count in total only, and each request they carry counts for
        its forwarded client.
    @ivar max_body_size: the largest request body taken, in bytes; a larger
        or chunked body is answered C{413} before it is read.
    @ivar max_request_line: the longest request line, in bytes.
    @ivar max_head_size: the largest request head (request line and
        headers), in bytes.
    @ivar retry_after: seconds a refused client is told to wait.
    @ivar allowed_hosts: the host names, besides C{localhost} and IP
        addresses, that requests may name in C{Host}, lowercased; a request
        naming another is answered C{421}. Requests without C{Host} (HTTP/1.0)
        are served: browsers always send it.
    @ivar trusted_proxies: the reverse proxies whose C{X-Forwarded-For} and
        C{X-Forwarded-Proto} are believed.

    The access log leaves out the value of any C{token} query argument
    (an API token), in the URI and in C{Referer}.
    """

    protocol = CamserveChannel  # type: ignore[assignment]  # Site's is a factory function
    requestFactory = CamserveRequest
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
        trusted_proxies: TrustedProxies | None = None,
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
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self._per_client: Counter[str] = Counter()
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
        return answers_to(host, self.allowed_hosts)

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
        A channel for a connection from C{addr}, or a L{Refusal} if it
        would exceed a limit. A client address is an IP address; clients
        without one (a Unix socket's) and trusted proxies are limited only
        in total.
        """
        client = getattr(addr, "host", None)
        proxied = self.trusted_proxies.trusts(client)
        if proxied:
            client = None
        if self._open >= self.max_connections or (
            client is not None
            and self._per_client[client] >= self.max_connections_per_client
        ):
            refusal = Refusal(self.reactor, self.retry_after)
            refusal.factory = self
            return refusal
        channel = super().buildProtocol(addr)
        channel._client = client  # noqa: SLF001 - set by its own module
        channel._proxied = proxied  # noqa: SLF001 - set by its own module
        self._open += 1
        if client is not None:
            self._per_client[client] += 1
        return channel

    def take_client(self, client: str) -> bool:
        """
        Count a request a trusted proxy forwards for C{client} as one of its
        connections, unless C{client} has as many as it may; whether it
        was counted.
        """
        if self._per_client[client] >= self.max_connections_per_client:
            return False
        self._per_client[client] += 1
        return True

    def closed_client(self, client: str) -> None:
        """
        Free a place of C{client}'s.
        """
        self._per_client[client] -= 1
        if not self._per_client[client]:
            del self._per_client[client]

    def closed(self, client: str | None) -> None:
        """
        Free the place of a connection from C{client}.
        """
        self._open -= 1
        if client is not None:
            self.closed_client(client)
