# -*- test-case-name: tests.test_viewer -*-
"""
A viewer: one HTTP response streaming one camera, paced by its connection.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from camserve._defaults import STALL_TIMEOUT
from camserve._multipart import ADVANCE_PREAMBLE, PREAMBLE
from camserve.interfaces import VIEWER, IKeepAliveSink
from camserve.streams._stream import StreamResponse

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.web.http import Request

    from camserve._frame import Frame
    from camserve.interfaces import IFeed

_AFTER_EVERY_FRAME = sys.maxsize
"""Higher than any frame number a hub will reach."""


@implementer(IPushProducer, IKeepAliveSink)
class StreamViewer(StreamResponse):
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

    kind = VIEWER

    def __init__(
        self,
        request: Request,
        hub: IFeed,
        clock: IReactorTime,
        *,
        max_fps: float | None = None,
        advance_headers: bool = False,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        """
        @param max_fps: at most this many frames a second, if given.
        @param advance_headers: use the framing that browsers show without
            a frame's delay (see L{camserve._multipart}).
        @param stall_timeout: seconds the connection may stay full before the
            viewer is presumed gone.
        """
        super().__init__(request, clock, stall_timeout=stall_timeout)
        self._hub = hub
        self._min_interval = 1 / max_fps if max_fps else 0.0
        self._advance_headers = advance_headers
        self.frames_sent = 0
        self._last_number = 0
        self._pending: Frame | None = None
        self._next_send_at = 0.0
        self._cap_call: IDelayedCall | None = None

    def start(self, first: Frame) -> Deferred[None]:
        """
        Send the response headers and C{first}, then follow the hub.

        @return: fires when the stream ends on the server's side; cancel it
            (as Klein does when the client goes away) to end the stream.
        """
        preamble = ADVANCE_PREAMBLE if self._advance_headers else PREAMBLE
        if not self._start_response(preamble, len(first.part)):
            return self._done
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
        self._finish("the camera was shut down")

    def _cap_elapsed(self) -> None:
        self._cap_call = None
        pending, self._pending = self._pending, None
        if pending is not None:
            self.send_frame(pending)

    # StreamResponse

    def _resumed(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and self._cap_call is None:
            self.send_frame(pending)
        else:
            self._pending = pending

    def _detach(self) -> None:
        self._pending = None
        # Refuses every later frame without a check on the per-frame path.
        self._last_number = _AFTER_EVERY_FRAME
        if self._cap_call is not None and self._cap_call.active():
            self._cap_call.cancel()
        self._cap_call = None
        self._hub.unsubscribe(self)

    def _log_end(self, why: str) -> None:
        self._log.info(
            "viewer {peer} stopped watching camera {camera} after {frames} frames:"
            " {why}",
            peer=self.peer,
            camera=self._hub.name,
            frames=self.frames_sent,
            why=why,
        )
