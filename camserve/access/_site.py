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

from collections import Counter
from typing import TYPE_CHECKING, Any

from twisted.web.server import Site

from camserve._defaults import (
    HEADER_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_CLIENT,
)
from camserve.access._access_log import access_log_line
from camserve.access._answers import Refusal
from camserve.access._channel import CamserveChannel
from camserve.access._host_names import answers_to
from camserve.access._proxies import (
    CamserveRequest,
    TrustedProxies,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twisted.internet.interfaces import IAddress, IReactorTime
    from twisted.web.resource import IResource


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
        header_timeout: float = HEADER_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        max_connections_per_client: int = MAX_CONNECTIONS_PER_CLIENT,
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
        channel.counted_client = client
        channel.proxied = proxied
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
