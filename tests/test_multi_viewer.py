"""
Tests for L{camserve.streams._multi_viewer.MultiViewer}, driven through twisted.web.

Every test serves the C{/streams} route of L{service_resource} from a real
L{Site} whose channel is connected to an in-memory transport: no sockets, no
real time. Each camera is a hub fed by a hand-driven L{PushSource}, time is a
L{Clock}, so every frame, pause and timeout happens at an exact moment, and
the tests read the exact bytes that would have gone to the wire.
"""

from __future__ import annotations

from functools import cache, partial
from typing import TYPE_CHECKING

import pytest
from attrs import define, field
from support import SiteConnection, assert_no_trouble
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.server import Request, Site
from zope.interface.verify import verifyObject

import camserve.streams._stream
from camserve import (
    THUMBNAIL,
    CameraHub,
    CameraService,
    CameraUnavailable,
    IFrameSink,
    MultiViewer,
    service_resource,
)
from camserve._multipart import PREAMBLE
from camserve.streams._multi_viewer import _Channel
from camserve.testing import PushSource, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable

    from support import LogRecorder
    from twisted.python.failure import Failure

BASE_TIME = 1_700_000_000.0
"""Capture times are C{BASE_TIME + key / 4}: exact in binary, realistic."""

NAMES = ("a", "b", "c")
"""The cameras of the default service, in its order."""

Sent = tuple[str, int]
"""A frame on the wire: its camera's name and its number in that camera."""


def key(camera: int, number: int) -> int:
    """
    What tells frame C{number} of the C{camera}th camera from every other.
    """
    return camera * 256 + number


_FRAMES: dict[bytes, int] = {}
"""Which key each JPEG made by L{jpeg} stands for."""


@cache
def jpeg(frame_key: int) -> bytes:
    """
    The JPEG of the frame with C{frame_key}: distinct keys, distinct bytes.
    """
    data = make_jpeg(frame_key)
    assert data not in _FRAMES, "two frames share a JPEG"
    _FRAMES[data] = frame_key
    return data


def labelled_part(camera: bytes, frame_key: int, captured: int | None = None) -> bytes:
    """
    The exact bytes camserve must send for the frame with C{frame_key} of
    the camera whose C{X-Camera} header is C{camera}.

    @param captured: the key of the frame whose capture time it carries, if
        not its own.
    """
    data = jpeg(frame_key)
    captured = frame_key if captured is None else captured
    return (
        b"Content-Type: image/jpeg\r\n"
        b"Content-Length: %d\r\n"
        b"X-Camera: %s\r\n"
        b"X-Timestamp: %.6f\r\n\r\n%s\r\n--frame\r\n"
        % (len(data), camera, BASE_TIME + captured / 4, data)
    )


@define
class Connection(SiteConnection):
    """
    One client connection to the service's Site, as the server sees it.
    """

    names: tuple[str, ...]

    def sent(self) -> list[Sent]:
        """
        The frames sent so far, in order, repeats included, each checked to
        carry its own camera's name.
        """
        sent = []
        for part in self.parts():
            frame_key = _FRAMES.get(part.body)
            assert frame_key is not None, f"an unknown {len(part.body)}-byte body"
            camera, number = divmod(frame_key, 256)
            name = self.names[camera]
            assert part.headers["x-camera"] == name
            assert part.headers["content-type"] == "image/jpeg"
            assert part.headers["x-timestamp"] == f"{BASE_TIME + frame_key / 4:.6f}"
            sent.append((name, number))
        return sent


class EagerSource(PushSource):
    """
    A L{PushSource} that delivers a frame as it starts, before its
    C{start} returns, as an asynchronous driver with a frame at hand may.
    """

    def __init__(self, first: Callable[[], object]) -> None:
        super().__init__()
        self._first = first

    def start(
        self,
        deliver: Callable[[bytes, float], None],
        stopped: Callable[[Failure | None], None],
    ) -> None:
        """
        Start, and deliver the first frame at once.
        """
        super().start(deliver, stopped)
        self._first()


@define
class Cameras:
    """
    A service of cameras fed by L{PushSource}s and served by a L{Site}, all
    on one clock.
    """

    names: tuple[str, ...] = NAMES
    stall_timeouts: tuple[float, ...] | None = None
    eager: tuple[str, ...] = ()
    """Cameras whose sources are L{EagerSource}s."""
    clock: Clock = field(factory=Clock)
    service: CameraService = field(init=False)
    sources: dict[str, PushSource] = field(init=False, factory=dict)
    pushed: dict[str, int] = field(init=False, factory=dict)
    site: Site = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.service = CameraService(self.clock)
        for index, name in enumerate(self.names):
            source = self.sources[name] = (
                EagerSource(partial(self.push, name))
                if name in self.eager
                else PushSource()
            )
            self.pushed[name] = 0
            if self.stall_timeouts is None:
                self.service.add_source(name, source)
            else:
                self.service.add_source(
                    name, source, stall_timeout=self.stall_timeouts[index]
                )
        self.site = Site(service_resource(self.service, self.clock), reactor=self.clock)

    def connect(self, query: bytes = b"?cameras=a,b") -> Connection:
        """
        Open a connection and ask it for C{/streams} with C{query}.
        """
        request = b"GET /streams%s HTTP/1.1\r\nHost: x\r\n\r\n" % query
        connection: Connection = Connection.open(self.site, request, names=self.names)
        return connection

    def hub(self, name: str) -> CameraHub:
        """
        The hub of camera C{name}.
        """
        return self.service.hubs[name]

    def push(self, name: str) -> Sent:
        """
        Deliver camera C{name}'s next frame; return it as L{Connection.sent}
        shows it.
        """
        self.pushed[name] += 1
        number = self.pushed[name]
        frame_key = key(self.names.index(name), number)
        self.sources[name].push(jpeg(frame_key), BASE_TIME + frame_key / 4)
        return (name, number)

    def part(self, name: str, number: int) -> bytes:
        """
        The exact bytes of frame C{number} of camera C{name}.
        """
        return labelled_part(name.encode("ascii"), key(self.names.index(name), number))

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} pass.
        """
        self.clock.advance(seconds)

    def channel(self, name: str) -> _Channel:
        """
        The one channel of a viewer subscribed to camera C{name}.
        """
        (sink,) = tuple(self.hub(name)._sinks)
        assert isinstance(sink, _Channel)
        return sink

    def viewer(self) -> MultiViewer:
        """
        The one viewer watching the first camera.
        """
        return self.channel(self.names[0]).viewer


@pytest.fixture
def cameras() -> Cameras:
    """
    Cameras C{a}, C{b} and C{c} with default settings.
    """
    return Cameras()


def streaming(cameras: Cameras) -> Connection:
    """
    A viewer of cameras C{a} and C{b} that has received frame 1 of each.
    """
    connection = cameras.connect()
    cameras.push("a")
    cameras.push("b")
    assert connection.sent() == [("a", 1), ("b", 1)]
    return connection


WriterScript = list[str]


def scripted_writer(
    monkeypatch: pytest.MonkeyPatch, script: WriterScript
) -> WriterScript:
    """
    Make every stream's writer follow C{script}, one step per part, as a
    real connection's might; with no step left, parts are taken as usual.

      - C{"take"}: the part is written and there is room for more;
      - C{"fill"}: the part is written and the connection's buffer is then
        full, so the producer is paused, as a transport pauses it once
        anything waits in its buffer;
      - C{"decline"}: the socket took none of the part: the producer is
        paused and the part left to the viewer, as camserve.streams._direct's writer
        does;
      - C{"refuse"}: the part is not taken and nothing is paused.

    @return: C{script}, to add steps to later.
    """

    def body_writer(request: Request) -> Callable[[bytes], bool]:
        def write(data: bytes) -> bool:
            step = script.pop(0) if script else "take"
            if step in ("take", "fill"):
                request.write(data)
            if step in ("fill", "decline"):
                request.channel.pauseProducing()
            return step in ("take", "fill")

        return write

    monkeypatch.setattr(camserve.streams._stream, "body_writer", body_writer)
    return script


# The response


def test_status_line_and_headers(cameras: Cameras) -> None:
    """
    The stream is a C{200} response announcing C{multipart/x-mixed-replace}
    with boundary C{frame}, forbidding caching, not chunk-encoded and closing
    the connection when it ends. Unlike a one-camera stream it starts at
    once, before any camera has a frame: its body is then the opening
    boundary alone.
    """
    connection = cameras.connect()
    response = connection.response()
    assert response.status == b"HTTP/1.1 200 OK"
    assert response.headers[b"content-type"] == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert response.headers[b"cache-control"] == [
        b"no-store, no-cache, must-revalidate"
    ]
    assert response.headers[b"pragma"] == [b"no-cache"]
    assert response.headers[b"x-content-type-options"] == [b"nosniff"]
    assert response.headers[b"connection"] == [b"close"]
    assert b"transfer-encoding" not in response.headers
    assert b"content-length" not in response.headers
    assert response.body == b"--frame\r\n"


def test_body_bytes_are_exact(cameras: Cameras) -> None:
    """
    The body opens with the boundary, and each part is exactly its headers
    (type, length, camera, timestamp with six decimals), the JPEG and the
    next boundary right after it, in the order the frames arrived, with
    nothing in between or after.
    """
    connection = cameras.connect()
    cameras.push("a")
    assert connection.response().body == b"--frame\r\n" + cameras.part("a", 1)
    cameras.push("b")
    cameras.push("a")
    assert connection.response().body == (
        b"--frame\r\n"
        + cameras.part("a", 1)
        + cameras.part("b", 1)
        + cameras.part("a", 2)
    )
    assert cameras.viewer().frames_sent == 3


def test_camera_name_is_percent_encoded() -> None:
    """
    C{X-Camera} carries the camera's name as percent-encoded UTF-8, spaces,
    slashes and commas included, so that any name fits in a header.
    """
    cameras = Cameras(names=("Back door/é", "x,y"))
    connection = cameras.connect(b"?cameras=Back%20door%2F%C3%A9")
    cameras.push("Back door/é")
    assert connection.response().body == PREAMBLE + labelled_part(
        b"Back%20door%2F%C3%A9", key(0, 1)
    )
    assert cameras.hub("x,y").viewers == 0
    (part,) = connection.parts()
    assert part.headers["x-camera"] == "Back%20door%2F%C3%A9"


def test_frame_delivered_as_a_camera_starts() -> None:
    """
    A frame that a camera delivers as it starts, before the response has
    begun, is sent right after the opening boundary and not before the
    headers.
    """
    cameras = Cameras(eager=("b",))
    connection = cameras.connect()
    response = connection.response()
    assert response.status == b"HTTP/1.1 200 OK"
    assert response.body == PREAMBLE + cameras.part("b", 1)
    cameras.push("a")
    assert connection.sent() == [("b", 1), ("a", 1)]
    assert cameras.viewer().frames_sent == 2


def test_two_cameras_interleaved(cameras: Cameras) -> None:
    """
    Frames of two cameras go out as they arrive, each once, interleaved in
    arrival order, and a strict parser reads each back with its camera.
    """
    connection = cameras.connect()
    order = [cameras.push(name) for name in "abaabbba"]
    assert connection.sent() == order
    assert order == [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("a", 3),
        ("b", 2),
        ("b", 3),
        ("b", 4),
        ("a", 4),
    ]
    assert cameras.viewer().frames_sent == 8


def test_only_the_chosen_cameras(cameras: Cameras) -> None:
    """
    A stream of some cameras follows only those: the others are not started
    and their frames (were they running) are not sent.
    """
    connection = cameras.connect(b"?cameras=c,a")
    assert cameras.sources["c"].starts == 1
    assert cameras.sources["a"].starts == 1
    assert cameras.sources["b"].starts == 0
    assert cameras.hub("b").viewers == 0
    cameras.push("c")
    cameras.push("a")
    assert connection.sent() == [("c", 1), ("a", 1)]


def test_every_camera_by_default(cameras: Cameras) -> None:
    """
    Without C{?cameras=} the stream carries every camera of the service.
    """
    connection = cameras.connect(b"")
    assert [cameras.hub(name).viewers for name in NAMES] == [1, 1, 1]
    for name in ("c", "b", "a"):
        cameras.push(name)
    assert connection.sent() == [("c", 1), ("b", 1), ("a", 1)]


def test_joining_gets_each_cameras_fresh_frame_at_once(cameras: Cameras) -> None:
    """
    A viewer joining running cameras is sent each camera's newest frame at
    once while it is fresh, then follows; a frame too old to be fresh is
    not sent, and that camera's next frame is.
    """
    first = streaming(cameras)
    second = cameras.connect()
    assert second.sent() == [("a", 1), ("b", 1)]
    cameras.advance(1)
    cameras.push("b")
    assert second.sent() == [("a", 1), ("b", 1), ("b", 2)]
    assert first.sent() == [("a", 1), ("b", 1), ("b", 2)]
    cameras.advance(1.5)
    third = cameras.connect(b"?cameras=a")
    assert third.sent() == []
    cameras.push("a")
    assert third.sent() == [("a", 2)]


# Backpressure


def test_pause_keeps_only_newest_per_camera(cameras: Cameras) -> None:
    """
    While the connection is paused nothing is written and only each
    camera's newest frame is kept; resuming sends each of those once, and
    resuming again sends nothing more.
    """
    connection = streaming(cameras)
    before = connection.raw()
    connection.pause()
    for name in "abbabb":
        cameras.push(name)
    assert connection.raw() == before
    viewer = cameras.viewer()
    pending = [channel.pending for channel in viewer._channels]
    assert [(frame.camera, frame.number) for frame in pending if frame] == [
        ("a", 3),
        ("b", 5),
    ]
    connection.resume()
    assert connection.sent() == [("a", 1), ("b", 1), ("a", 3), ("b", 5)]
    assert [channel.pending for channel in viewer._channels] == [None, None]
    connection.pause()
    connection.resume()
    assert connection.sent() == [("a", 1), ("b", 1), ("a", 3), ("b", 5)]
    cameras.push("b")
    assert connection.sent() == [("a", 1), ("b", 1), ("a", 3), ("b", 5), ("b", 6)]
    assert viewer.frames_sent == 5


def test_pause_holds_back_only_cameras_with_new_frames(cameras: Cameras) -> None:
    """
    Resuming after a pause in which only one camera had a new frame sends
    that frame alone.
    """
    connection = streaming(cameras)
    connection.pause()
    cameras.push("b")
    cameras.push("b")
    connection.resume()
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 3)]


def test_resume_starts_from_the_next_camera(
    cameras: Cameras, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    When the connection fills again part way through the frames held back,
    the next resume starts with the camera after the last one sent, so on a
    connection too slow for them all no camera is always last.
    """
    script = scripted_writer(monkeypatch, [])
    connection = cameras.connect(b"")
    for name in NAMES:
        cameras.push(name)
    connection.pause()
    for name in NAMES:
        cameras.push(name)
    script.append("fill")
    connection.resume()
    assert connection.sent()[3:] == [("a", 2)]
    cameras.push("a")
    script.append("fill")
    connection.resume()
    assert connection.sent()[3:] == [("a", 2), ("b", 2)]
    script.append("fill")
    connection.resume()
    assert connection.sent()[3:] == [("a", 2), ("b", 2), ("c", 2)]
    script.append("fill")
    connection.resume()
    assert connection.sent()[3:] == [("a", 2), ("b", 2), ("c", 2), ("a", 3)]
    connection.resume()
    assert len(connection.sent()) == 7


def test_resume_rotates_over_many_rounds(
    cameras: Cameras, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    On a connection that takes two of three held-back frames at each
    resume, every camera's turn comes: the cameras are sent in rotation.
    """
    script = scripted_writer(monkeypatch, [])
    connection = cameras.connect(b"")
    connection.pause()
    for _ in range(3):
        for name in NAMES:
            cameras.push(name)
        script.extend(["take", "fill"])
        connection.resume()
    assert [name for name, _ in connection.sent()] == list("abcabc")
    assert connection.sent() == [
        ("a", 1),
        ("b", 1),
        ("c", 2),
        ("a", 2),
        ("b", 3),
        ("c", 3),
    ]


def test_declined_camera_is_not_starved(
    cameras: Cameras, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    When the socket takes two held-back frames and then declines the third
    at every resume, the declined camera goes first at the next resume:
    each camera gets through in turn, none always declined.
    """
    script = scripted_writer(monkeypatch, [])
    connection = cameras.connect(b"")
    connection.pause()
    for _ in range(3):
        for name in NAMES:
            cameras.push(name)
        script.extend(["take", "take", "decline"])
        connection.resume()
    assert connection.sent() == [
        ("a", 1),
        ("b", 1),
        ("c", 2),
        ("a", 2),
        ("b", 3),
        ("c", 3),
    ]
    assert script == []


def test_part_not_taken_stays_pending(
    cameras: Cameras, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A part the connection took none of is not counted as sent: the viewer
    is paused, that camera's newer frame replaces it, the other camera's
    frame waits too, and both newest go out on resume.
    """
    script = scripted_writer(monkeypatch, [])
    connection = streaming(cameras)
    viewer = cameras.viewer()
    script.append("decline")
    cameras.push("b")
    assert connection.sent() == [("a", 1), ("b", 1)]
    assert viewer.frames_sent == 2
    assert viewer._paused
    channel_b = cameras.channel("b")
    assert channel_b.pending is not None
    assert channel_b.pending.number == 2
    assert channel_b.last_number == 1
    cameras.push("b")
    cameras.push("a")
    assert connection.sent() == [("a", 1), ("b", 1)]
    connection.resume()
    assert connection.sent() == [("a", 1), ("b", 1), ("a", 2), ("b", 3)]
    assert viewer.frames_sent == 4


def test_frame_offered_again_is_not_sent_again(cameras: Cameras) -> None:
    """
    A frame offered a second time (its number already sent for that
    camera) is not written again, whether the connection is open or paused;
    the same number from another camera is a different frame.
    """
    connection = streaming(cameras)
    channel_a = cameras.channel("a")
    first = cameras.hub("a").newest
    assert first is not None
    channel_a.send_frame(first)
    assert connection.sent() == [("a", 1), ("b", 1)]
    connection.pause()
    channel_a.send_frame(first)
    connection.resume()
    assert connection.sent() == [("a", 1), ("b", 1)]
    cameras.push("b")
    cameras.push("a")
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 2), ("a", 2)]


def test_backpressure_is_per_connection(cameras: Cameras) -> None:
    """
    A paused viewer holds back only its own frames: another viewer of the
    same cameras gets every frame meanwhile (after the fresh ones it joined
    with).
    """
    slow = streaming(cameras)
    fast = cameras.connect()
    slow.pause()
    cameras.push("a")
    cameras.push("b")
    cameras.push("a")
    assert fast.sent() == [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)]
    assert slow.sent() == [("a", 1), ("b", 1)]
    slow.resume()
    assert slow.sent() == [("a", 1), ("b", 1), ("a", 3), ("b", 2)]


# Keepalive


def test_keepalive_repeats_each_cameras_newest(cameras: Cameras) -> None:
    """
    A camera with no new frame for 2 s has its newest part written again,
    byte for byte, every 2 s; a camera whose frames keep coming gets none.
    """
    connection = streaming(cameras)
    cameras.advance(1)
    cameras.push("b")
    cameras.advance(0.9)
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 2)]
    cameras.advance(0.1)
    assert connection.response().body == PREAMBLE + b"".join(
        [
            cameras.part("a", 1),
            cameras.part("b", 1),
            cameras.part("b", 2),
            cameras.part("a", 1),
        ]
    )
    cameras.advance(0.5)
    cameras.push("b")
    cameras.advance(1.5)
    assert connection.sent()[4:] == [("b", 3), ("a", 1)]
    assert cameras.viewer().frames_sent == 4


def test_paused_viewer_gets_no_keepalive(cameras: Cameras) -> None:
    """
    Keepalives are not written while paused, and resuming without a new
    frame does not write one late.
    """
    connection = streaming(cameras)
    before = connection.raw()
    connection.pause()
    cameras.advance(5)
    assert connection.raw() == before
    connection.resume()
    assert connection.raw() == before
    cameras.advance(2)
    assert connection.sent() == [("a", 1), ("b", 1), ("a", 1), ("b", 1)]


def test_no_keepalive_for_a_camera_with_a_pending_frame(
    cameras: Cameras, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A camera whose newest frame is still pending gets no keepalive (which
    would send that frame early, and then again), while the other camera
    does; the pending frame then goes out once.
    """
    script = scripted_writer(monkeypatch, [])
    connection = streaming(cameras)
    cameras.advance(1)
    script.append("refuse")
    cameras.push("a")
    assert cameras.channel("a").pending is not None
    cameras.advance(1)
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 1)]
    cameras.advance(1)
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 1)]
    connection.resume()
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 1), ("a", 2)]
    cameras.advance(1)
    assert connection.sent()[4:] == [("b", 1)]
    cameras.advance(1)
    assert connection.sent()[4:] == [("b", 1), ("a", 2)]


# Cameras leaving


def test_one_camera_shut_down_leaves_the_others_streaming(
    cameras: Cameras, log: LogRecorder
) -> None:
    """
    A camera shut down leaves the stream, its pending frame dropped; the
    other camera's frames go on, on the same open connection.
    """
    connection = streaming(cameras)
    connection.pause()
    cameras.push("a")
    cameras.push("b")
    cameras.hub("a").shutdown()
    assert not connection.closed
    connection.resume()
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 2)]
    cameras.push("b")
    cameras.advance(2)
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 2), ("b", 3), ("b", 3)]
    assert not connection.closed
    assert cameras.hub("b").viewers == 1
    assert_no_trouble(log)


def test_all_cameras_shut_down_finishes_the_response(
    cameras: Cameras, log: LogRecorder
) -> None:
    """
    Once its last camera is shut down the stream ends after the last
    complete part, with no chunk terminator, the connection closed
    gracefully and no producer left registered.
    """
    connection = streaming(cameras)
    viewer = cameras.viewer()
    done = viewer._done
    cameras.hub("b").shutdown()
    assert not connection.closed
    cameras.push("a")
    cameras.hub("a").shutdown()
    assert connection.closed
    assert not connection.transport.disconnected
    assert connection.response().body == PREAMBLE + b"".join(
        [cameras.part("a", 1), cameras.part("b", 1), cameras.part("a", 2)]
    )
    assert connection.channel._requestProducer is None
    assert done.called
    assert viewer._ended
    cameras.advance(60)
    assert not connection.transport.disconnected
    assert_no_trouble(log)


def test_all_cameras_shut_down_while_paused(cameras: Cameras, log: LogRecorder) -> None:
    """
    Shutting every camera down while the connection is paused drops the
    frames held back and still ends the response cleanly.
    """
    connection = streaming(cameras)
    connection.pause()
    cameras.push("a")
    cameras.push("b")
    cameras.hub("a").shutdown()
    cameras.hub("b").shutdown()
    assert connection.closed
    assert not connection.transport.disconnected
    assert connection.response().body == PREAMBLE + b"".join(
        [cameras.part("a", 1), cameras.part("b", 1)]
    )
    cameras.advance(60)
    assert not connection.transport.disconnected
    assert_no_trouble(log)


def test_removed_camera_leaves_the_stream(cameras: Cameras, log: LogRecorder) -> None:
    """
    A camera removed from the service leaves the stream as a shut down one
    does, and the stream ends with the last.
    """
    connection = streaming(cameras)
    cameras.service.remove_camera("a")
    cameras.push("b")
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 2)]
    cameras.service.remove_camera("b")
    assert connection.closed
    assert not connection.transport.disconnected
    assert connection.channel._requestProducer is None
    assert_no_trouble(log)


def test_camera_failure_keeps_the_stream(cameras: Cameras, log: LogRecorder) -> None:
    """
    A camera failing does not end the stream or leave it: once its hub has
    restarted it, its frames flow again.
    """
    connection = streaming(cameras)
    cameras.sources["a"].fail(OSError("unplugged"))
    cameras.push("b")
    cameras.advance(0.5)
    assert cameras.sources["a"].starts == 2
    cameras.push("a")
    assert connection.sent() == [("a", 1), ("b", 1), ("b", 2), ("a", 2)]
    assert not connection.closed
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [1, 1]
    assert "camera a failed: unplugged" in " ".join(log.formatted())


# The client leaving


def test_client_leaving_unsubscribes_from_every_camera(
    cameras: Cameras, log: LogRecorder
) -> None:
    """
    When the client closes the connection the viewer leaves every hub,
    nothing more is written, and nothing is logged as an error; the cameras
    then stop after their idle timeout.
    """
    connection = streaming(cameras)
    viewer = cameras.viewer()
    connection.pause()
    cameras.push("a")
    connection.leave()
    assert [cameras.hub(name).consumers for name in NAMES] == [{}, {}, {}]
    assert [channel.pending for channel in viewer._channels] == [None, None]
    before = connection.raw()
    cameras.push("a")
    cameras.push("b")
    cameras.advance(9.9)
    assert connection.raw() == before
    assert not cameras.sources["a"].stop_requested
    assert not cameras.sources["b"].stop_requested
    cameras.advance(0.1)
    assert cameras.sources["a"].stop_requested
    assert cameras.sources["b"].stop_requested
    assert_no_trouble(log)


def test_transport_stops_producer_then_loses_connection(
    cameras: Cameras, log: LogRecorder
) -> None:
    """
    A real transport stops its producer before reporting the connection
    lost; the viewer leaves every hub at the first and the second is
    harmless. A frame or keepalive still on its way to one of its channels
    then writes nothing.
    """
    connection = streaming(cameras)
    channel_a = cameras.channel("a")
    connection.channel.stopProducing()
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [0, 0]
    before = connection.raw()
    cameras.push("a")
    newest = cameras.hub("a").newest
    assert newest is not None
    channel_a.send_frame(newest)
    channel_a.keep_alive(newest)
    assert connection.raw() == before
    connection.leave()
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [0, 0]
    assert_no_trouble(log)


def test_client_leaving_before_any_frame(cameras: Cameras, log: LogRecorder) -> None:
    """
    A viewer leaving before any camera had a frame leaves every hub: the
    frames that come later are written nowhere.
    """
    connection = cameras.connect()
    connection.leave()
    cameras.push("a")
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [0, 0]
    assert connection.response().body == PREAMBLE
    assert_no_trouble(log)


def test_client_leaving_after_a_camera_was_shut_down(
    cameras: Cameras, log: LogRecorder
) -> None:
    """
    A viewer leaving after one of its cameras was shut down leaves the
    others, with no error.
    """
    connection = streaming(cameras)
    cameras.hub("a").shutdown()
    connection.leave()
    assert cameras.hub("b").viewers == 0
    assert_no_trouble(log)


# Stall watchdog


def test_stalled_viewer_is_aborted(cameras: Cameras, log: LogRecorder) -> None:
    """
    A connection paused for the stall timeout (30 s by default) is aborted,
    and its viewer leaves every hub, without an error.
    """
    connection = streaming(cameras)
    connection.pause()
    cameras.push("a")
    cameras.advance(29.9)
    assert not connection.closed
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [1, 1]
    cameras.advance(0.1)
    assert connection.transport.disconnected
    assert connection.closed
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [0, 0]
    assert_no_trouble(log)


def test_stall_timeout_is_the_cameras_longest(log: LogRecorder) -> None:
    """
    The stall timeout of a stream is the longest of its cameras'.
    """
    cameras = Cameras(stall_timeouts=(5, 8, 60))
    connection = streaming(cameras)
    connection.pause()
    cameras.advance(7.9)
    assert not connection.closed
    cameras.advance(0.1)
    assert connection.transport.disconnected
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [0, 0]
    assert_no_trouble(log)


def test_resumed_viewer_is_not_aborted(cameras: Cameras) -> None:
    """
    A connection paused and resumed within the stall timeout stays open
    however long it streams afterwards.
    """
    connection = streaming(cameras)
    connection.pause()
    cameras.advance(29)
    connection.resume()
    cameras.advance(60)
    assert not connection.closed
    assert not connection.transport.disconnected
    assert [cameras.hub(name).viewers for name in ("a", "b")] == [1, 1]


# Unavailable cameras


def test_unknown_camera(cameras: Cameras) -> None:
    """
    Asking for a camera the service does not have gets a C{404} naming it,
    and no camera is started.
    """
    connection = cameras.connect(b"?cameras=a,zz")
    response = connection.response()
    assert response.status == b"HTTP/1.1 404 Not Found"
    assert b"multipart" not in connection.raw()
    assert b"no such camera\n" in response.body
    assert cameras.sources["a"].starts == 0


def test_shut_down_camera_at_start(cameras: Cameras, log: LogRecorder) -> None:
    """
    A stream asking for a camera that is shut down gets a C{503} naming it,
    with no stream headers, and leaves no subscription behind on the other
    cameras.
    """
    cameras.hub("b").shutdown()
    connection = cameras.connect(b"?cameras=a,b")
    response = connection.response()
    assert response.status == b"HTTP/1.1 503 Service Unavailable"
    assert response.headers[b"content-type"] == [b"text/plain; charset=utf-8"]
    assert b"multipart" not in connection.raw()
    assert b"camera b is shut down\n" in response.body
    assert cameras.hub("a").viewers == 0
    assert connection.channel._requestProducer is None
    assert_no_trouble(log)


def test_start_raises_camera_unavailable(cameras: Cameras) -> None:
    """
    L{MultiViewer.start} raises L{CameraUnavailable} for a hub that is shut
    down, having written nothing, registered no producer and left no hub
    subscribed, whichever place the closed hub has.
    """
    cameras.hub("c").shutdown()
    for order in (("a", "c", "b"), ("c", "a", "b"), ("a", "b", "c")):
        protocol = cameras.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        assert protocol is not None
        transport = StringTransport()
        protocol.makeConnection(transport)
        request = Request(transport.producer)
        request.method = b"GET"
        request.clientproto = b"HTTP/1.1"
        viewer = MultiViewer(
            request, [cameras.hub(name) for name in order], cameras.clock
        )
        with pytest.raises(CameraUnavailable, match=r"^camera c is shut down$"):
            viewer.start()
        assert transport.value() == b""
        assert not request.startedWriting
        assert request.producer is None
        assert [cameras.hub(name).viewers for name in ("a", "b")] == [0, 0]


# Interfaces


def test_viewer_provides_interfaces(cameras: Cameras) -> None:
    """
    A viewer is a push producer; each of its channels is a frame sink.
    """
    streaming(cameras)
    viewer = cameras.viewer()
    assert verifyObject(IPushProducer, viewer)
    assert verifyObject(IFrameSink, cameras.channel("a"))
    assert verifyObject(IFrameSink, cameras.channel("b"))


def test_start_returns_the_deferred_that_ends_it(cameras: Cameras) -> None:
    """
    The Deferred from L{MultiViewer.start} fires with L{None} when the
    last camera is gone.
    """
    streaming(cameras)
    results: list[object] = []
    cameras.viewer()._done.addBoth(results.append)
    cameras.hub("a").shutdown()
    assert results == []
    cameras.hub("b").shutdown()
    assert results == [None]


# Thumbnails


def test_thumbnail_stream(cameras: Cameras, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    C{?size=thumbnail} streams each camera's thumbnails, each part naming
    its camera and carrying its frame's capture time; each camera has one
    thumbnail consumer for it (the thumbnails' hub has the viewer), and
    loses it when the client leaves.
    """
    made: list[tuple[bytes, Deferred[bytes]]] = []

    def in_thread(shrink: Callable[[bytes], bytes], jpeg: bytes) -> Deferred[bytes]:
        result: Deferred[bytes] = Deferred()
        made.append((jpeg, result))
        return result

    monkeypatch.setattr(cameras.service, "_shrink_in_thread", in_thread)
    connection = cameras.connect(b"?cameras=b,a&size=thumbnail")
    assert connection.response().status == b"HTTP/1.1 200 OK"
    assert [cameras.hub(name).consumers for name in NAMES] == [
        {THUMBNAIL: 1},
        {THUMBNAIL: 1},
        {},
    ]
    thumbnails = cameras.service.thumbnail_hubs
    assert [thumbnails[name].viewers for name in ("a", "b")] == [1, 1]
    cameras.push("a")
    cameras.push("b")
    assert [jpeg for jpeg, _ in made] == [jpeg(key(0, 1)), jpeg(key(1, 1))]
    # The tests' JPEGs are too small to shrink: the thread returns another
    # frame's JPEG, so that the parts can be told apart.
    made[1][1].callback(jpeg(key(1, 7)))
    made[0][1].callback(jpeg(key(0, 9)))
    assert connection.response().body == PREAMBLE + b"".join(
        [
            labelled_part(b"b", key(1, 7), captured=key(1, 1)),
            labelled_part(b"a", key(0, 9), captured=key(0, 1)),
        ]
    )
    connection.leave()
    cameras.advance(0)
    assert [thumbnails[name].viewers for name in ("a", "b")] == [0, 0]
    assert [cameras.hub(name).consumers for name in NAMES] == [{}, {}, {}]
