# -*- test-case-name: tests.test_site,tests.test_site_tls -*-
"""
The answers a L{camserve.access._site.CamserveSite} gives a connection it will not
serve (a request too slow, too large, ambiguous or for another host; a
connection over a limit), and how such a connection is closed, over TCP and
over TLS alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IHandshakeListener, ISSLTransport
from twisted.internet.protocol import Protocol
from zope.interface import implementer

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.python.failure import Failure

LINGER = 2.0
"""Seconds a connection answered with an error stays open to read (and
drop) what its client is still sending, so that closing it does not reset
the connection before the client reads the answer. Over TLS, also the
longest a refused client has to finish its handshake and read the answer."""

SECURITY_HEADERS = ((b"X-Content-Type-Options", b"nosniff"),)
"""Headers every answer of camserve's carries."""

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
        *SECURITY_HEADERS,
        *extra,
    )
    lines = [b"HTTP/1.1 %d %s" % (code, _REASONS[code])]
    lines.extend(name + b": " + value for name, value in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@implementer(IHandshakeListener)
class Answering:
    """
    Answers a connection with an error and closes it after a linger.

    Over TCP the write side closes at once and the whole connection when
    the client closes its side or after L{LINGER} seconds. Over TLS the
    answer is sent once the handshake is done, followed by TLS's close;
    the connection is aborted if that has not happened within L{LINGER}
    seconds. Whatever the client sends meanwhile is dropped
    unread by the protocol.
    """

    transport: Any
    _clock: IReactorTime
    answered = False
    handshake_done = False
    _linger_call: IDelayedCall | None = None

    def handshakeCompleted(self) -> None:
        """
        The TLS handshake is done: answers can now reach the client.
        """
        self.handshake_done = True

    @property
    def over_tls(self) -> bool:
        """
        Whether the connection is a TLS one.
        """
        return ISSLTransport.providedBy(self.transport)

    def answer_and_close(
        self, code: int, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        """
        Write the answer C{code} and close the connection.
        """
        if self.answered:
            return
        self.answered = True
        transport = self.transport
        if self.over_tls:
            transport.write(error_answer(code, extra))
            # Twisted's TLS transport has no half-close of its own: asked for
            # one, it hands over the TCP transport's, which would end TCP under
            # TLS before the answer is out. Its loseConnection sends what is
            # buffered (after the handshake), then TLS's close, but only
            # once no producer is registered: an HTTP channel is one.
            transport.unregisterProducer()
            transport.loseConnection()
            self._linger_call = self._clock.callLater(LINGER, self._abort)
            return
        transport.write(error_answer(code, extra))
        close_writing = getattr(transport, "loseWriteConnection", None)
        if close_writing is None:
            transport.loseConnection()
            return
        close_writing()
        self._linger_call = self._clock.callLater(LINGER, self._close)

    def _close(self) -> None:
        self._linger_call = None
        self.transport.loseConnection()

    def _abort(self) -> None:
        self._linger_call = None
        self.transport.abortConnection()

    def stop_lingering(self) -> None:
        """
        Forget the linger: the connection is gone.
        """
        if self._linger_call is not None and self._linger_call.active():
            self._linger_call.cancel()
        self._linger_call = None


class Refusal(Answering, Protocol):
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
