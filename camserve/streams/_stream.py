# -*- test-case-name: tests.test_viewer -*-
"""
The connection side of a stream: an endless, close-delimited response fed
by a push producer, paced by its connection and watched for stalls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from camserve._defaults import STALL_TIMEOUT
from camserve._multipart import CONTENT_TYPE
from camserve.streams._direct import Write, body_writer
from camserve.streams._send_queue import bound_send_queue
from camserve.streams._unchunked import start_close_delimited

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.web.http import Request


def set_stream_headers(request: Request) -> None:
    """
    Set the headers of a stream response (also the answer to C{HEAD}); a
    reverse proxy (nginx's C{X-Accel-Buffering}) is asked not to buffer it.
    """
    request.setHeader(b"content-type", CONTENT_TYPE)
    request.setHeader(b"cache-control", b"no-store, no-cache, must-revalidate")
    request.setHeader(b"pragma", b"no-cache")
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"x-accel-buffering", b"no")


class StreamResponse:
    """
    The part of a streaming push producer that deals with its request: the
    response's start, pausing and resuming, the stall watchdog, and ending
    once, whichever side ends it.

    Subclasses decide what to send: they write whole parts with C{_write},
    which returns whether the connection took the part, keep what they
    hold back in L{_resumed}, and let go of their sources in L{_detach}.
    """

    _log = Logger()
    _write: Write
    """Writes a part; made by L{_start_response}, once the headers are out."""

    def __init__(
        self,
        request: Request,
        clock: IReactorTime,
        *,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        """
        @param stall_timeout: seconds the connection may stay full before the
            viewer is presumed gone.
        """
        self._request = request
        self._clock = clock
        self._stall_timeout = stall_timeout
        address = request.getClientAddress()
        self.peer = f"{getattr(address, 'host', '?')}:{getattr(address, 'port', '?')}"
        self._paused = False
        self._paused_since = 0.0
        self._stall_call: IDelayedCall | None = None
        self._ended = False
        self._done: Deferred[None] = Deferred(self._cancelled)

    def _start_response(self, preamble: bytes, part_size: int) -> bool:
        """
        Send the response's headers and C{preamble}, and register as the
        request's producer; unless the client has already left (while a
        camera started or a login was checked), which ends the stream.

        @param part_size: about how large a part is: what the connection
            may hold unsent.
        @return: whether the response started.
        """
        request = self._request
        if request.channel is None:
            self._end("the client left before it began")
            return False
        set_stream_headers(request)
        start_close_delimited(request)
        request.write(preamble)
        self._write = body_writer(request)
        # Each part ends in a short segment that Nagle's algorithm would hold
        # back until the previous one is acknowledged: a round trip of
        # latency per frame on a real network.
        no_delay = getattr(request.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)
        request.registerProducer(self, True)
        # After the headers are queued and the producer is registered, so
        # that the first part, queued behind them, pauses it.
        bound_send_queue(request.transport, part_size)
        return True

    # IPushProducer

    def pauseProducing(self) -> None:
        """
        The connection's buffer is full: hold frames back.
        """
        self._paused = True
        self._paused_since = self._clock.seconds()
        if self._stall_call is None and not self._ended:
            self._stall_call = self._clock.callLater(
                self._stall_timeout, self._check_stall
            )

    def resumeProducing(self) -> None:
        """
        The connection has drained: send the newest frames held back.
        """
        self._paused = False
        self._resumed()

    def stopProducing(self) -> None:
        """
        The connection is going away.
        """
        self._end("the connection closed")

    def _resumed(self) -> None:
        """
        Send what was held back while paused.
        """

    def _check_stall(self) -> None:
        # One timer per stall period rather than one per pause: resuming only
        # clears a flag, and the timer re-arms itself if a later pause is
        # still young when it fires.
        self._stall_call = None
        if not self._paused or self._ended:
            return
        waited = self._clock.seconds() - self._paused_since
        if waited < self._stall_timeout:
            self._stall_call = self._clock.callLater(
                self._stall_timeout - waited, self._check_stall
            )
            return
        self._log.info(
            "viewer {peer} read nothing for {timeout:g} s, disconnecting it",
            peer=self.peer,
            timeout=self._stall_timeout,
        )
        self._end("it stalled")
        transport = self._request.transport
        if transport is not None:
            # A dead peer never drains, so loseConnection would wait forever.
            abort = getattr(transport, "abortConnection", transport.loseConnection)
            abort()

    # Ending

    def _finish(self, why: str) -> None:
        """
        End the stream from the server's side, as when the camera is shut
        down.
        """
        if self._end(why):
            self._done.callback(None)

    def _cancelled(self, _: Deferred[None]) -> None:
        self._end("the client left")

    def _end(self, why: str) -> bool:
        """
        Detach from the sources and the request, once.

        @return: whether this call did it.
        """
        if self._ended:
            return False
        self._ended = True
        if self._stall_call is not None and self._stall_call.active():
            self._stall_call.cancel()
        self._stall_call = None
        self._detach()
        # After the connection is lost the request has no channel to
        # unregister from (and twisted.web only complains about producers
        # left on requests that finish).
        if self._request.channel is not None:
            self._request.unregisterProducer()
        self._log_end(why)
        return True

    def _detach(self) -> None:
        """
        Let go of the sources and any timers: the stream has ended.
        """

    def _log_end(self, why: str) -> None:
        """
        Log that the stream ended, and why.
        """
