# -*- test-case-name: tests.test_site,tests.test_site_tls -*-
"""
One HTTP/1.1 connection of camserve's site, which enforces the site's
limits on each request before the request reaches the application: the
request timeout, the sizes of the head and body, the host names, the
ambiguous requests, and the clients forwarded by trusted proxies.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_to_bytes

from twisted.web.http import HTTPChannel

from camserve.access._answers import SECURITY_HEADERS, Answering
from camserve.access._host_names import answers_to
from camserve.access._proxies import ForwardedForError, take_forwarded
from camserve.access._twisted_web import request_line

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall
    from twisted.python.failure import Failure
    from twisted.web.http_headers import Headers

    from camserve.access._proxies import TrustedProxies


class Limits(Protocol):
    """
    What a connection knows of its site: its limits, and where it counts
    its clients.
    """

    reactor: Any
    header_timeout: float
    max_body_size: int
    max_request_line: int
    max_head_size: int
    retry_after: int
    allowed_hosts: frozenset[str]
    trusted_proxies: TrustedProxies

    def take_client(self, client: str) -> bool:
        """
        Count a forwarded client's request, unless it has as many as it may.
        """

    def closed_client(self, client: str) -> None:
        """
        Free a place of C{client}'s.
        """

    def closed(self, client: str | None) -> None:
        """
        Free the place of a connection from C{client}.
        """


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

    factory: Limits
    _request_call: IDelayedCall | None = None
    counted_client: str | None = None
    """The client address the connection counts for, from its start; L{None}
    for a client without one or a trusted proxy."""
    _forwarded: str | None = None
    proxied = False
    """Whether the connection comes from a trusted proxy."""
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
        self.factory.closed(self.counted_client)
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
        if not self.proxied:
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
