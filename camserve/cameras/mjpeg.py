# -*- test-case-name: tests.test_mjpeg_relay -*-
"""
The C{mjpeg} driver: a relay of another server's Motion JPEG stream.
"""

from __future__ import annotations

from base64 import b64encode
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from twisted.internet import error as internet_error
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    HTTPConnectionPool,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from camserve.cameras._multipart_reader import (
    MultipartReader,
    StreamFormatError,
    boundary_from_content_type,
)
from camserve.cameras._options import check_positive
from camserve.interfaces import IDroppedFrames, IFrameSource, IHealthDetails

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IDelayedCall
    from twisted.web.iweb import IResponse

_ERROR_BODY_LIMIT = 512
"""The most bytes of an error response's body read for its reason."""


class RelayError(Exception):
    """
    The upstream stream could not be read. The message is one line.
    """


@implementer(IFrameSource, IHealthDetails, IDroppedFrames)
class MJPEGRelay:
    """
    Relays a Motion JPEG stream from another server (another camserve, an
    IP camera, mjpg-streamer, uStreamer) with Twisted's HTTP client, passing
    each JPEG on byte for byte with its C{X-Timestamp}.

    One upstream connection serves every viewer of the relay; it is opened
    when the hub starts the source and closed when the hub stops it, so an
    unwatched relay costs its origin nothing. A connection that fails,
    ends, or goes quiet for C{timeout} seconds is reported to the hub, which
    reconnects with backoff while viewers remain.
    """

    description = "relay of another Motion JPEG stream over HTTP(S)"

    _log = Logger()

    def __init__(
        self,
        *,
        reactor: Any,
        source: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_verify: bool = True,
    ) -> None:
        """
        @param reactor: what the connection runs on.
        @param source: the stream's C{http://} or C{https://} URL; it may
            carry credentials (C{http://user:password@host/...}).
        @param username: the user for HTTP basic authentication.
        @param password: the password for HTTP basic authentication.
        @param timeout: seconds to connect, and seconds the upstream may
            send no frame before the relay gives up on the connection.
        @param tls_verify: whether to check an C{https} server's certificate.

        @raise ValueError: for a source that is not an HTTP(S) URL, a timeout
            that is not positive, or credentials given twice.
        """
        if not source:
            raise ValueError(
                "source must be the http:// or https:// URL of a Motion JPEG stream"
            )
        url = urlsplit(source)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(
                f"source must be an http:// or https:// URL with a host, not {source!r}"
            )
        check_positive("timeout", timeout)
        if url.username is not None:
            if username is not None or password is not None:
                raise ValueError(
                    "give the credentials in the source URL or as username and "
                    "password, not both"
                )
            username, password = unquote(url.username), unquote(url.password or "")
        elif password is not None and username is None:
            raise ValueError("password is given without a username")

        host = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
        netloc = host if url.port is None else f"{host}:{url.port}"
        self.source = urlunsplit(url._replace(netloc=netloc))
        """The stream's URL, without credentials: fit for logs and health."""
        self._url = self.source.encode("ascii")
        self._headers = Headers({b"User-Agent": [b"camserve relay"]})
        if username is not None:
            token = b64encode(f"{username}:{password or ''}".encode())
            self._headers.addRawHeader(b"Authorization", b"Basic " + token)
        self.timeout = timeout
        self._clock = reactor
        self._agent = Agent(
            reactor,
            contextFactory=_TLSPolicy(verify=tls_verify),
            connectTimeout=timeout,
            pool=HTTPConnectionPool(reactor, persistent=False),
        )

        self._deliver: Callable[[bytes, float], None] | None = None
        self._stopped: Callable[[Failure | None], None] | None = None
        self._request: Deferred[IResponse] | None = None
        self._body: _StreamBody | _ErrorBody | None = None
        self._watchdog: IDelayedCall | None = None
        self._stopping = False
        self._failure: Failure | None = None
        self._skipped_before = 0
        self._dropped = 0
        self.connected = False
        """Whether the upstream stream is open now."""

    def health_details(self) -> dict[str, object]:
        """
        The upstream URL, whether it is connected, and how many of its parts
        were not whole JPEGs.
        """
        skipped = self._skipped_before
        if isinstance(self._body, _StreamBody):
            skipped += self._body.reader.skipped
        return {
            "source": self.source,
            "connected": self.connected,
            "parts_skipped": skipped,
        }

    def frames_dropped(self) -> int:
        """
        How many of the origin's frames were not passed on because a newer
        one arrived in the same read.
        """
        return self._dropped

    # IFrameSource

    def start(
        self,
        deliver: Callable[[bytes, float], None],
        stopped: Callable[[Failure | None], None],
    ) -> None:
        """
        Connect to the upstream stream.
        """
        self._deliver = deliver
        self._stopped = stopped
        self._stopping = False
        self._failure = None
        self._watchdog = self._clock.callLater(self.timeout, self._went_quiet)
        request = self._agent.request(b"GET", self._url, self._headers)
        self._request = request
        request.addCallbacks(self._responded, self._request_failed)

    def stop(self) -> None:
        """
        Close the upstream connection; the hub hears once it is closed.
        """
        self._stopping = True
        self._abort()

    # The connection

    def _abort(self) -> None:
        if self._request is not None:
            self._request.cancel()
        elif self._body is not None and self._body.transport is not None:
            self._body.transport.stopProducing()  # type: ignore[attr-defined] # a response body's transport is an IPushProducer

    def _fail(self, reason: str) -> None:
        """
        Give up on the connection for C{reason}, reported once it is closed.
        """
        self._failed(None, reason)
        self._abort()

    def _went_quiet(self) -> None:
        self._watchdog = None
        what = "sent no frame" if self.connected else "gave no stream"
        self._fail(f"{what} for {self.timeout:g} s")

    def _responded(self, response: IResponse) -> None:
        self._request = None
        if self._watchdog is not None:
            self._watchdog.reset(self.timeout)
        if response.code != 200:  # noqa: PLR2004 - HTTP's OK
            self._refused(_ErrorBody(self, response))
            return
        content_type = response.headers.getRawHeaders(b"content-type", [b""])[0]
        try:
            boundary = boundary_from_content_type(content_type.decode("latin-1"))
        except StreamFormatError as error:
            self._refused(_ErrorBody(self, response, str(error)))
            return
        stream = _StreamBody(self, MultipartReader(boundary))
        self._body = stream
        response.deliverBody(stream)
        self.connected = True
        self._log.info("relay: connected to {source}", source=self.source)

    def _refused(self, body: _ErrorBody) -> None:
        """
        Read why a response is not a stream, then close it.
        """
        self._body = body
        body.response.deliverBody(body)

    def _request_failed(self, failure: Failure) -> None:
        self._request = None
        self._failed(failure)
        self._finished()

    def _failed(self, failure: Failure | None, reason: str | None = None) -> None:
        """
        Keep why the connection ended (C{reason}, or else what C{failure}
        says), unless it was asked to end or already has a reason.
        """
        if self._failure is None and not self._stopping:
            if reason is None:
                reason = (
                    "the stream ended"
                    if failure is None
                    else _connection_error(failure)
                )
            self._failure = Failure(RelayError(f"upstream {self.source}: {reason}"))

    def _data_received(self, data: bytes, reader: MultipartReader) -> None:
        try:
            parts = reader.feed(data)
        except StreamFormatError as error:
            self._fail(str(error))
            return
        if parts and self._deliver is not None and not self._stopping:
            # Only frames count as signs of life: an upstream sending parts
            # that are no JPEGs is as good as silent.
            if self._watchdog is not None:
                self._watchdog.reset(self.timeout)
            # Only the newest of the frames this chunk completed is worth
            # showing; the rest would be overtaken at once.
            newest = parts[-1]
            self._dropped += len(parts) - 1
            captured_at = newest.timestamp
            self._deliver(
                newest.jpeg,
                self._clock.seconds() if captured_at is None else captured_at,
            )

    def _body_ended(self, reason: Failure, error: str | None = None) -> None:
        self._failed(reason, error)
        if isinstance(self._body, _StreamBody):
            self._skipped_before += self._body.reader.skipped
        self._body = None
        self._finished()

    def _finished(self) -> None:
        if self._watchdog is not None:
            if self._watchdog.active():
                self._watchdog.cancel()
            self._watchdog = None
        if self.connected:
            self.connected = False
            self._log.info("relay: disconnected from {source}", source=self.source)
        stopped, self._stopped, self._deliver = self._stopped, None, None
        failure, self._failure = self._failure, None
        if stopped is not None:
            # Every end but an asked-for stop has left its reason in _failure.
            stopped(None if self._stopping else failure)


class _StreamBody(Protocol):
    """
    Receives the upstream stream's body.
    """

    def __init__(self, relay: MJPEGRelay, reader: MultipartReader) -> None:
        self.relay = relay
        self.reader = reader

    def dataReceived(self, data: bytes) -> None:
        self.relay._data_received(data, self.reader)  # noqa: SLF001 - the relay's own helper

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008 - Twisted's signature
        self.relay._body_ended(reason)  # noqa: SLF001


class _ErrorBody(Protocol):
    """
    Reads the start of a response that is not a stream, for the reason it
    gives, then closes the connection.
    """

    def __init__(
        self, relay: MJPEGRelay, response: IResponse, reason: str | None = None
    ) -> None:
        """
        @param reason: why the response is not a stream, if not its status.
        """
        self.relay = relay
        self.response = response
        self.reason = reason
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= _ERROR_BODY_LIMIT and self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined] # a response body's transport is an IPushProducer

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008 - Twisted's signature
        if self.reason is not None:
            self.relay._body_ended(reason, self.reason)  # noqa: SLF001
            return
        status = f"{self.response.code} {self.response.phrase.decode('latin-1')}"
        lines = (
            self.received[:_ERROR_BODY_LIMIT].decode("utf-8", "replace").splitlines()
        )
        first = next((line.strip() for line in lines if line.strip()), "")
        detail = f": {first}" if first and len(first) < 200 else ""  # noqa: PLR2004 - a line, not a page
        self.relay._body_ended(reason, f"answered {status}{detail}")  # noqa: SLF001


def _connection_error(failure: Failure) -> str:
    """
    Why a connection failed or ended, in a few words.
    """
    error = failure.value
    if isinstance(error, _WRAPPERS) and error.reasons:
        error = error.reasons[0].value
    if isinstance(error, _ENDED):
        return "the stream ended"
    for kind, words in _KNOWN_ERRORS:
        if isinstance(error, kind):
            return words
    lines = str(error).strip().splitlines()
    return f"connection failed: {lines[0] if lines else type(error).__name__}"


_WRAPPERS = (ResponseFailed, ResponseNeverReceived)
_ENDED = (ResponseDone, PotentialDataLoss, internet_error.ConnectionDone)
_KNOWN_ERRORS = (
    (internet_error.ConnectionRefusedError, "connection refused"),
    (internet_error.DNSLookupError, "cannot resolve the host name"),
    (internet_error.TCPTimedOutError, "connection timed out"),
    (internet_error.TimeoutError, "connection timed out"),
    (internet_error.ConnectionLost, "the connection was lost"),
)


@implementer(IPolicyForHTTPS)
class _TLSPolicy:
    """
    How the relay checks an C{https} upstream: as a browser would, or (for
    cameras with self-signed certificates) not at all.
    """

    def __init__(self, *, verify: bool) -> None:
        self._verify = verify

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:  # noqa: ARG002 - the interface's signature
        """
        TLS client settings for C{hostname}.
        """
        # Only https needs pyOpenSSL, which twisted.internet.ssl imports.
        from twisted.internet import ssl  # noqa: PLC0415

        if self._verify:
            return ssl.optionsForClientTLS(hostname.decode("ascii"))
        return ssl.CertificateOptions(verify=False)
