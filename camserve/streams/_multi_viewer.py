# -*- test-case-name: tests.test_multi_viewer -*-
"""
A viewer of several cameras over one connection: what lets a page show any
number of live cameras within a browser's six connections to a host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from camserve._defaults import STALL_TIMEOUT
from camserve._multipart import PREAMBLE
from camserve.interfaces import VIEWER, IKeepAliveSink
from camserve.streams._stream import StreamResponse

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.http import Request

    from camserve._frame import Frame
    from camserve.interfaces import IFeed


_GUESSED_PART_SIZE = 65536
"""What the connection may hold unsent before any frame has been seen."""


@implementer(IKeepAliveSink)
class _Channel:
    """
    One camera's frames, on their way into a L{MultiViewer}.
    """

    kind = VIEWER

    def __init__(self, viewer: MultiViewer, hub: IFeed) -> None:
        self.viewer = viewer
        self.hub = hub
        self.last_number = 0
        self.pending: Frame | None = None
        self.closed = False

    def send_frame(self, frame: Frame) -> None:
        """
        Pass C{frame} to the viewer.
        """
        self.viewer.offer(self, frame)

    def keep_alive(self, frame: Frame) -> None:
        """
        Pass C{frame} to the viewer as a keepalive.
        """
        self.viewer.keep_alive(self, frame)

    def camera_closed(self) -> None:
        """
        The camera is gone: the viewer goes on with the others.
        """
        self.closed = True
        self.pending = None
        self.viewer.channel_closed()


@implementer(IPushProducer)
class MultiViewer(StreamResponse):
    """
    Streams the frames of several hubs into one request, each part naming
    its camera in an C{X-Camera} header (L{Frame.labelled_part}), as a push
    producer registered on it.

    Backpressure never queues: while the connection is paused the viewer
    keeps only the newest frame of each camera and sends those on resume. A
    camera that fails or is slow does not hold up the others; a camera that
    is removed leaves the stream, which ends when no camera is left.
    """

    def __init__(
        self,
        request: Request,
        hubs: Sequence[IFeed],
        clock: IReactorTime,
        *,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        """
        @param hubs: the cameras, each once.
        @param stall_timeout: seconds the connection may stay full before the
            viewer is presumed gone.
        """
        super().__init__(request, clock, stall_timeout=stall_timeout)
        self._channels = [_Channel(self, hub) for hub in hubs]
        self._first_on_resume = 0
        self.frames_sent = 0

    def start(self) -> Deferred[None]:
        """
        Follow every hub, then send the response headers; frames go out
        from then on.

        @return: fires when the stream ends on the server's side; cancel it
            (as Klein does when the client goes away) to end the stream.
        @raise camserve.CameraUnavailable: if a hub is shut down.
        """
        # Subscribing first, so that a hub that is shut down is known before
        # anything is sent and the caller can still answer with an error.
        # Meanwhile any frame waits, as it would in a pause.
        self._paused = True
        subscribed: list[_Channel] = []
        try:
            for channel in self._channels:
                channel.hub.subscribe(channel)
                subscribed.append(channel)
        except BaseException:
            self._ended = True
            for channel in subscribed:
                channel.pending = None
                channel.hub.unsubscribe(channel)
            raise
        self._paused = False
        # A camera already running has a picture to show at once.
        for channel in self._channels:
            if channel.pending is None:
                channel.pending = channel.hub.fresh_frame()
        newest = [channel.hub.newest for channel in self._channels]
        sizes = [len(frame.labelled_part) for frame in newest if frame is not None]
        if not self._start_response(PREAMBLE, max(sizes, default=_GUESSED_PART_SIZE)):
            return self._done
        if not self._paused:
            self._resumed()
        self._log.info(
            "viewer {peer} started watching cameras {cameras}",
            peer=self.peer,
            cameras=", ".join(channel.hub.name for channel in self._channels),
        )
        return self._done

    def offer(self, channel: _Channel, frame: Frame) -> None:
        """
        Send C{frame} of C{channel}'s camera now, or keep it as that camera's
        pending frame while the connection is paused.
        """
        if frame.number <= channel.last_number or self._ended:
            return
        if self._paused or not self._write(frame.labelled_part):
            channel.pending = frame
            return
        channel.pending = None
        channel.last_number = frame.number
        self.frames_sent += 1

    def keep_alive(self, channel: _Channel, frame: Frame) -> None:
        """
        Send C{frame} again, unless the connection is paused or a newer
        frame of that camera is waiting anyway.
        """
        if self._paused or channel.pending is not None or self._ended:
            return
        self._write(frame.labelled_part)

    def channel_closed(self) -> None:
        """
        A channel's camera was removed or shut down; the stream ends with
        the last one.
        """
        if all(each.closed for each in self._channels):
            self._finish("its cameras were shut down")

    # StreamResponse

    def _resumed(self) -> None:
        # Round the cameras from a different one each time, so that on a
        # connection too slow for them all no camera is always last.
        count = len(self._channels)
        first = self._first_on_resume
        for step in range(count):
            channel = self._channels[(first + step) % count]
            pending, channel.pending = channel.pending, None
            if pending is not None:
                self.offer(channel, pending)
            if self._paused:
                # A part the connection declined is still pending: that
                # camera goes first next time, else it could be the one
                # declined at every resume.
                declined = channel.pending is not None
                self._first_on_resume = (first + step + (not declined)) % count
                return

    def _detach(self) -> None:
        for channel in self._channels:
            channel.pending = None
            if not channel.closed:
                channel.hub.unsubscribe(channel)

    def _log_end(self, why: str) -> None:
        self._log.info(
            "viewer {peer} stopped watching {count} cameras after {frames} frames:"
            " {why}",
            peer=self.peer,
            count=len(self._channels),
            frames=self.frames_sent,
            why=why,
        )
