"""
Tests for L{camserve.IFeed}: a stream takes its frames from a feed, a
camera's hub live or frames played back, and shows frames played again
after a seek backwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from support import SiteConnection
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from zope.interface import implementer
from zope.interface.verify import verifyObject

from camserve import CameraHub, Frame, IFeed, StreamViewer
from camserve.testing import MultipartParser, PushSource, make_jpeg

if TYPE_CHECKING:
    from twisted.web.server import Request

    from camserve.interfaces import IFrameSink


@implementer(IFeed)
class Playback:
    """
    A feed of recorded frames, played from any place: each frame it gives
    is numbered anew, so that a frame played again after a seek backwards
    is newer to a stream than the last it sent.
    """

    name = "porch"

    def __init__(self, recorded: list[bytes]) -> None:
        self.recorded = recorded
        self.sinks: list[IFrameSink] = []
        self.newest: Frame | None = None
        self._given = 0
        self._place = 0

    def subscribe(self, sink: IFrameSink) -> None:
        self.sinks.append(sink)

    def unsubscribe(self, sink: IFrameSink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    def next_frame(self) -> Deferred[Frame]:
        return succeed(self._frame())

    def fresh_frame(self) -> Frame | None:
        return self.newest

    def seek(self, place: int) -> None:
        self._place = place

    def play(self, count: int) -> None:
        """
        Give the sinks the next C{count} recorded frames.
        """
        for _ in range(count):
            frame = self._frame()
            for sink in list(self.sinks):
                sink.send_frame(frame)

    def _frame(self) -> Frame:
        self._given += 1
        jpeg = self.recorded[self._place % len(self.recorded)]
        self._place += 1
        self.newest = Frame(jpeg, float(self._place), self._given, 0.0, self.name)
        return self.newest


class Streaming(Resource):
    """
    Streams a feed to every request, as a camera's C{video_feed} does.
    """

    isLeaf = True

    def __init__(self, feed: IFeed, clock: Clock) -> None:
        super().__init__()
        self.feed = feed
        self.clock = clock

    def render_GET(self, request: Request) -> Any:
        viewer = StreamViewer(request, self.feed, self.clock)
        self.feed.next_frame().addCallback(viewer.start)
        return NOT_DONE_YET


def test_a_camera_hub_is_a_live_feed() -> None:
    """
    A camera's hub is the feed of its live frames.
    """
    assert verifyObject(IFeed, CameraHub("porch", PushSource(), Clock()))


def test_a_stream_shows_frames_played_again_after_a_seek() -> None:
    """
    A stream of a played-back feed sends each frame it is given, those
    played again after a seek backwards included, in the order played.
    """
    recorded = [make_jpeg(number, 64, 48) for number in range(4)]
    playback = Playback(recorded)
    connection: SiteConnection = SiteConnection.open(
        Site(Streaming(playback, Clock())), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    playback.play(2)
    playback.seek(0)
    playback.play(2)
    parts = MultipartParser().feed(connection.response().body)
    assert [part.body for part in parts] == [
        recorded[0],
        recorded[1],
        recorded[2],
        recorded[0],
        recorded[1],
    ]
