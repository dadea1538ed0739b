# -*- test-case-name: tests.test_viewer -*-
"""
A viewer: one HTTP response streaming one camera, paced by its connection.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from ._direct import body_writer
from ._multipart import ADVANCE_PREAMBLE, CONTENT_TYPE, PREAMBLE
from ._send_queue import bound_send_queue
from ._unchunked import start_close_delimited
from .interfaces import IFrameSink

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.web.http import Request

    from ._frame import Frame
    from ._hub import CameraHub


def set_stream_headers(request: Request) -> None:
    """
    Set the headers of a stream response (also the answer to C{HEAD}).
    """
    request.setHeader(b"content-type", CONTENT_TYPE)
    request.setHeader(b"cache-control", b"no-store, no-cache, must-revalidate")
    request.setHeader(b"pragma", b"no-cache")
    request.setHeader(b"x-content-type-options", b"nosniff")


_AFTER_EVERY_FRAME = sys.maxsize
"""Higher than any frame number a hub will reach."""


@implementer(IPushProducer, IFrameSink)
class StreamViewer:
    """
    Streams a hub's frames into one request, as a push producer registered
    on it.

    Backpressure never queues: while the connection is paused the viewer
    keeps only the newest frame, and sends it on resume. A frame is never
    sent twice except as a keepalive. With a frame-rate cap the viewer sends
    at most C{max_fps} frames a second, always the newest. A connection that
    stays paused for the stall timeout is presumed dead and aborted: while a
    request is in progress twisted.web has no idle timeout of its own.
    """

    _log = Logger()

    def __init__(
        self,
        request: Request,
        hub: CameraHub,
        clock: IReactorTime,
        *,
        max_fps: float | None = None,
        advance_headers: bool = False,
        stall_timeout: float = 30.0,
    ) -> None:
        """
        @param max_fps: at most this many frames a second, if given.
        @param advance_headers: use the framing that browsers show without
            a frame's delay (see L{camserve._multipart}).
        @param stall_timeout: seconds the connection may stay full before the
            viewer is presumed gone.
        """
        self._request = request
        self._hub = hub
        self._clock = clock
        self._min_interval = 1 / max_fps if max_fps else 0.0
        self._advance_headers = advance_headers
        self._stall_timeout = stall_timeout
        address = request.getClientAddress()
        self.peer = f"{getattr(address, 'host', '?')}:{getattr(address, 'port', '?')}"
        self.frames_sent = 0

        self._last_number = 0
        self._pending: Frame | None = None
        self._paused = False
        self._paused_since = 0.0
        self._next_send_at = 0.0
        self._cap_call: IDelayedCall | None = None
        self._stall_call: IDelayedCall | None = None
        self._ended = False
        self._write = body_writer(request)
        self._done: Deferred[None] = Deferred(self._cancelled)

    def start(self, first: Frame) -> Deferred[None]:
        """
        Send the response headers and C{first}, then follow the hub.

        @return: fires when the stream ends on the server's side; cancel it
            (as Klein does when the client goes away) to end the stream.
        """
        request = self._request
        set_stream_headers(request)
        start_close_delimited(request)
        request.write(ADVANCE_PREAMBLE if self._advance_headers else PREAMBLE)
        self._write = body_writer(request)
        # Each part ends in a short segment that Nagle's algorithm would hold
        # back until the previous one is acknowledged: a round trip of
        # latency per frame on a real network.
        no_delay = getattr(request.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)
        request.registerProducer(self, True)
        # After the headers are queued and the viewer is registered, so that
        # the first frame, queued behind them, pauses this viewer.
        bound_send_queue(request.transport, len(first.part))
        self.send_frame(first)
        self._hub.subscribe(self)
        self._log.info(
            "viewer {peer} started watching camera {camera}",
            peer=self.peer,
            camera=self._hub.name,
        )
        return self._done

    # IFrameSink

    def send_frame(self, frame: Frame) -> None:
        """
        Send C{frame} now, or keep it as the one pending frame while the
        connection is paused or the frame-rate cap says wait.
        """
        if frame.number <= self._last_number:
            return
        if self._paused:
            self._pending = frame
            return
        now = self._clock.seconds() if self._min_interval else 0.0
        if now < self._next_send_at:
            self._pending = frame
            if self._cap_call is None:
                self._cap_call = self._clock.callLater(
                    self._next_send_at - now, self._cap_elapsed
                )
            return
        if not self._write(frame.advance_part if self._advance_headers else frame.part):
            # The socket took nothing and this viewer is now paused: a newer
            # frame may replace this one before the socket drains.
            self._pending = frame
            return
        if self._min_interval:
            self._next_send_at = now + self._min_interval
        self._pending = None
        self._last_number = frame.number
        self.frames_sent += 1

    def keep_alive(self, frame: Frame) -> None:
        """
        Send C{frame} again, unless the connection is paused or the
        frame-rate cap or a pending frame means something is due anyway.
        """
        if self._paused or self._pending is not None or self._ended:
            return
        if self._min_interval:
            now = self._clock.seconds()
            if now < self._next_send_at:
                return
            self._next_send_at = now + self._min_interval
        self._write(frame.advance_part if self._advance_headers else frame.part)

    def camera_closed(self) -> None:
        """
        The server is shutting down: finish the response.
        """
        if self._end("the camera was shut down"):
            self._done.callback(None)

    def _cap_elapsed(self) -> None:
        self._cap_call = None
        pending, self._pending = self._pending, None
        if pending is not None:
            self.send_frame(pending)

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
        The connection has drained: send the newest frame held back.
        """
        self._paused = False
        pending, self._pending = self._pending, None
        if pending is not None and self._cap_call is None:
            self.send_frame(pending)
        else:
            self._pending = pending

    def stopProducing(self) -> None:
        """
        The connection is going away.
        """
        self._end("the connection closed")

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

    def _cancelled(self, _: Deferred[None]) -> None:
        self._end("the client left")

    def _end(self, why: str) -> bool:
        """
        Detach from the hub and the request, once.

        @return: whether this call did it.
        """
        if self._ended:
            return False
        self._ended = True
        self._pending = None
        # Refuses every later frame without a check on the per-frame path.
        self._last_number = _AFTER_EVERY_FRAME
        for call in (self._cap_call, self._stall_call):
            if call is not None and call.active():
                call.cancel()
        self._cap_call = self._stall_call = None
        self._hub.unsubscribe(self)
        # After the connection is lost the request has no channel to
        # unregister from (and twisted.web only complains about producers
        # left on requests that finish).
        if self._request.channel is not None:
            self._request.unregisterProducer()
        self._log.info(
            "viewer {peer} stopped watching camera {camera} after {frames} frames:"
            " {why}",
            peer=self.peer,
            camera=self._hub.name,
            frames=self.frames_sent,
            why=why,
        )
        return True
