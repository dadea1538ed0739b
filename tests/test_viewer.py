"""
Tests for L{camserve.streams._viewer.StreamViewer}, driven through twisted.web.

Every test serves C{camera_resource} from a real L{Site} whose channel is
connected to an in-memory transport: no sockets, no real time. Frames come
from a hand-driven L{PushSource} and time from a L{Clock}, so every frame,
pause and timeout happens at an exact moment, and the tests read the exact
bytes that would have gone to the wire.
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from attrs import define, field
from support import SiteConnection, assert_no_trouble
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.web.server import Site
from zope.interface.verify import verifyObject

import camserve.streams._stream
from camserve import CameraHub, IFrameSink, StreamViewer, camera_resource
from camserve._multipart import PREAMBLE
from camserve.testing import PushSource, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable

    from support import LogRecorder
    from twisted.web.server import Request

GET_FEED = b"GET /video_feed HTTP/1.1\r\nHost: x\r\n\r\n"
GET_CAPPED_FEED = b"GET /video_feed?fps=2 HTTP/1.1\r\nHost: x\r\n\r\n"
"""The stream, capped at 2 frames a second."""
BASE_TIME = 1_700_000_000.0
"""Capture times are C{BASE_TIME + number / 4}: exact in binary, realistic."""


_NUMBERS: dict[bytes, int] = {}
"""Which frame number each JPEG made by L{jpeg} stands for."""


@cache
def jpeg(number: int) -> bytes:
    """
    The JPEG pushed as frame C{number}: distinct numbers, distinct bytes.
    """
    data = make_jpeg(number)
    assert data not in _NUMBERS, "two frame numbers share a JPEG"
    _NUMBERS[data] = number
    return data


def number_of(body: bytes) -> int:
    """
    Which frame a part carries, from its JPEG bytes.
    """
    number = _NUMBERS.get(body)
    assert number is not None, f"a part carries an unknown {len(body)}-byte body"
    return number


def part_bytes(number: int) -> bytes:
    """
    The exact bytes camserve must send for frame C{number}.
    """
    data = jpeg(number)
    return (
        b"Content-Type: image/jpeg\r\n"
        b"Content-Length: %d\r\n"
        b"X-Timestamp: %.6f\r\n\r\n%s\r\n--frame\r\n"
        % (len(data), BASE_TIME + number / 4, data)
    )


def dechunk(body: bytes) -> bytes:
    """
    Decode a complete chunked body, terminator included.
    """
    decoded = b""
    while True:
        size_line, crlf, body = body.partition(b"\r\n")
        assert crlf, "truncated chunk size line"
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n", f"bytes after the last chunk: {body!r}"
            return decoded
        assert body[size : size + 2] == b"\r\n", "chunk not followed by CRLF"
        decoded += body[:size]
        body = body[size + 2 :]


@define
class Connection(SiteConnection):
    """
    One client connection to the camera's Site, as the server sees it.
    """

    def sent(self) -> list[int]:
        """
        The numbers of the frames sent so far, in order, repeats included.
        """
        return [number_of(part.body) for part in self.parts()]


@define
class Camera:
    """
    A hub fed by a L{PushSource} and served by a L{Site}, all on one clock.
    """

    clock: Clock = field(factory=Clock)
    source: PushSource = field(factory=PushSource)
    stall_timeout: float | None = None
    hub: CameraHub = field(init=False)
    site: Site = field(init=False)
    pushed: int = field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self.hub = CameraHub("cam", self.source, self.clock)
        if self.stall_timeout is None:
            resource = camera_resource(self.hub, self.clock)
        else:
            resource = camera_resource(
                self.hub, self.clock, stall_timeout=self.stall_timeout
            )
        self.site = Site(resource, reactor=self.clock)

    def connect(self, request: bytes = GET_FEED) -> Connection:
        """
        Open a connection and send C{request} on it.
        """
        connection: Connection = Connection.open(self.site, request)
        return connection

    def push(self) -> int:
        """
        Deliver the next frame; return its number.
        """
        self.pushed += 1
        self.source.push(jpeg(self.pushed), BASE_TIME + self.pushed / 4)
        return self.pushed

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} pass.
        """
        self.clock.advance(seconds)

    def viewer(self) -> StreamViewer:
        """
        The one viewer subscribed to the hub.
        """
        (sink,) = tuple(self.hub._sinks)
        assert isinstance(sink, StreamViewer)
        return sink


@pytest.fixture
def camera() -> Camera:
    """
    A camera with default settings.
    """
    return Camera()


def streaming(camera: Camera) -> Connection:
    """
    A viewer that has received frame 1.
    """
    connection = camera.connect()
    camera.push()
    assert connection.sent() == [1]
    return connection


# The response


def test_status_line_and_headers(camera: Camera) -> None:
    """
    The stream is a C{200} response announcing C{multipart/x-mixed-replace}
    with boundary C{frame}, forbidding caching (and a reverse proxy's
    buffering), not chunk-encoded and closing the connection when it ends.
    """
    connection = camera.connect()
    camera.push()
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
    assert response.headers[b"x-accel-buffering"] == [b"no"]
    assert response.headers[b"connection"] == [b"close"]
    assert b"transfer-encoding" not in response.headers
    assert b"content-length" not in response.headers
    assert b"chunked" not in connection.raw().lower()


def test_body_bytes_are_exact(camera: Camera) -> None:
    """
    The body opens with the boundary, and each part is exactly its headers
    (type, length, timestamp with six decimals), the JPEG and the next
    boundary right after it, with nothing in between or after.
    """
    connection = camera.connect()
    camera.push()
    assert connection.response().body == b"--frame\r\n" + part_bytes(1)
    camera.push()
    camera.push()
    assert connection.response().body == (
        b"--frame\r\n" + part_bytes(1) + part_bytes(2) + part_bytes(3)
    )


def test_part_timestamp_has_six_decimals(camera: Camera) -> None:
    """
    C{X-Timestamp} is the capture time in Unix seconds with exactly six
    decimals, rounded.
    """
    connection = camera.connect()
    camera.source.push(jpeg(1), 1_700_000_000.1234567)
    camera.source.push(jpeg(2), 12.0)
    (first, second) = connection.parts()
    assert first.headers["x-timestamp"] == "1700000000.123457"
    assert second.headers["x-timestamp"] == "12.000000"


def test_parts_parse_strictly(camera: Camera) -> None:
    """
    A strict multipart parser reads every frame back, in order, with correct
    part headers.
    """
    connection = camera.connect()
    for _ in range(5):
        camera.push()
    parts = connection.parts()
    assert [part.body for part in parts] == [jpeg(n) for n in range(1, 6)]
    for part in parts:
        assert part.headers["content-type"] == "image/jpeg"
        assert part.headers["content-length"] == str(len(part.body))
    assert camera.viewer().frames_sent == 5


def test_http10_stream(camera: Camera) -> None:
    """
    An HTTP/1.0 client gets the same unchunked stream.
    """
    connection = camera.connect(b"GET /video_feed HTTP/1.0\r\n\r\n")
    camera.push()
    camera.push()
    response = connection.response()
    assert response.status == b"HTTP/1.0 200 OK"
    assert b"transfer-encoding" not in response.headers
    assert response.body == PREAMBLE + part_bytes(1) + part_bytes(2)


def test_viewer_before_first_frame_waits(camera: Camera) -> None:
    """
    A viewer arriving before the camera has a frame starts the camera, gets
    nothing (not even headers) until the first frame, then gets it.
    """
    connection = camera.connect()
    assert camera.source.starts == 1
    assert connection.raw() == b""
    assert camera.hub.viewers == 0
    camera.advance(5)
    assert connection.raw() == b""
    camera.push()
    assert connection.response().status == b"HTTP/1.1 200 OK"
    assert connection.response().body == PREAMBLE + part_bytes(1)
    assert camera.hub.viewers == 1


def test_late_viewer_starts_with_newest_frame(camera: Camera) -> None:
    """
    A viewer joining a running camera gets the newest frame at once and then
    every new one, each once.
    """
    first = streaming(camera)
    camera.advance(0.1)
    camera.push()
    second = camera.connect()
    assert second.sent() == [2]
    camera.advance(0.1)
    camera.push()
    assert first.sent() == [1, 2, 3]
    assert second.sent() == [2, 3]
    assert camera.hub.viewers == 2


# Backpressure


def test_paused_viewer_writes_nothing(camera: Camera) -> None:
    """
    While the connection is paused, new frames are not written.
    """
    connection = streaming(camera)
    before = connection.raw()
    connection.pause()
    camera.push()
    camera.push()
    assert connection.raw() == before


def test_resume_sends_only_newest_once(camera: Camera) -> None:
    """
    On resume only the newest of the frames held back is written, exactly
    once; resuming again writes nothing more.
    """
    connection = streaming(camera)
    connection.pause()
    for _ in range(4):
        camera.push()
    connection.resume()
    assert connection.sent() == [1, 5]
    connection.pause()
    connection.resume()
    assert connection.sent() == [1, 5]
    camera.push()
    assert connection.sent() == [1, 5, 6]


def test_resume_with_nothing_new_writes_nothing(camera: Camera) -> None:
    """
    Resuming when no frame arrived during the pause writes nothing.
    """
    connection = streaming(camera)
    before = connection.raw()
    connection.pause()
    connection.resume()
    assert connection.raw() == before


def test_at_most_one_pending_frame(camera: Camera) -> None:
    """
    However many frames arrive while paused, the viewer holds only the
    newest one.
    """
    connection = streaming(camera)
    connection.pause()
    viewer = camera.viewer()
    for _ in range(50):
        number = camera.push()
        pending = viewer._pending
        assert pending is not None
        assert pending.number == number
        assert pending.jpeg == jpeg(number)
    connection.resume()
    assert viewer._pending is None
    assert connection.sent() == [1, 51]


def test_no_frame_written_twice(camera: Camera) -> None:
    """
    Across any mix of pauses, resumes and frames, each frame is written at
    most once and frames go out in order, each the newest at its time.
    """
    connection = streaming(camera)
    script = "pfpffrfrrfpprfffrprpfr"
    for step in script:
        if step == "p":
            connection.pause()
        elif step == "r":
            connection.resume()
        else:
            camera.push()
    sent = connection.sent()
    assert sent == sorted(set(sent))
    assert sent == [1, 4, 5, 6, 7, 8, 9, 10]


def test_frame_offered_again_is_not_sent_again(camera: Camera) -> None:
    """
    A frame offered to a viewer a second time (its number already sent), as
    a source other than the hub might, is not written again, whether it
    comes while the connection is open or is held back by a pause.
    """
    connection = streaming(camera)
    viewer = camera.viewer()
    first = camera.hub.newest
    assert first is not None
    viewer.send_frame(first)
    assert connection.sent() == [1]
    connection.pause()
    viewer.send_frame(first)
    connection.resume()
    assert connection.sent() == [1]
    camera.push()
    assert connection.sent() == [1, 2]


def test_part_not_taken_stays_pending(
    camera: Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A part the connection took none of is not counted as sent: the viewer
    is paused, a newer frame replaces it, and the newest goes out on resume.
    """
    declining = False

    def body_writer(request: Request) -> Callable[[bytes], bool]:
        # As camserve.streams._direct's writer does when the socket takes nothing:
        # pause the producer and leave the part to the viewer.
        def write(data: bytes) -> bool:
            if declining:
                request.channel.pauseProducing()
                return False
            request.write(data)
            return True

        return write

    monkeypatch.setattr(camserve.streams._stream, "body_writer", body_writer)
    connection = streaming(camera)
    declining = True
    camera.push()
    declining = False
    assert connection.sent() == [1]
    assert camera.viewer().frames_sent == 1
    camera.push()
    assert connection.sent() == [1]
    connection.resume()
    assert connection.sent() == [1, 3]
    assert camera.viewer().frames_sent == 2


def test_paused_viewer_gets_no_keepalive(camera: Camera) -> None:
    """
    Keepalives are not written while paused, and resuming without a new
    frame does not write one late.
    """
    connection = streaming(camera)
    before = connection.raw()
    connection.pause()
    camera.advance(5)
    assert connection.raw() == before
    connection.resume()
    assert connection.raw() == before


# Keepalive


def test_keepalive_repeats_last_part(camera: Camera) -> None:
    """
    With no new frame for 2 s the last part is written again, byte for
    byte, and again every 2 s after that; not before.
    """
    connection = streaming(camera)
    camera.advance(1.9)
    assert connection.sent() == [1]
    camera.advance(0.1)
    assert connection.response().body == PREAMBLE + part_bytes(1) + part_bytes(1)
    camera.advance(2)
    assert connection.sent() == [1, 1, 1]


def test_new_frame_postpones_keepalive(camera: Camera) -> None:
    """
    A new frame restarts the keepalive interval, and the keepalive then
    repeats the newest frame.
    """
    connection = streaming(camera)
    camera.advance(1.5)
    camera.push()
    camera.advance(1.9)
    assert connection.sent() == [1, 2]
    camera.advance(0.1)
    assert connection.sent() == [1, 2, 2]


def test_backpressure_is_per_viewer(camera: Camera) -> None:
    """
    A paused viewer holds back only its own frames: another viewer of the
    same camera gets every frame meanwhile.
    """
    slow = streaming(camera)
    fast = camera.connect()
    slow.pause()
    camera.push()
    camera.push()
    assert fast.sent() == [1, 2, 3]
    assert slow.sent() == [1]
    slow.resume()
    assert slow.sent() == [1, 3]
    assert fast.sent() == [1, 2, 3]


# Frame-rate cap


def test_fps_cap_sends_newest_at_most_twice_a_second() -> None:
    """
    With C{?fps=2} and a frame every 0.1 s, the viewer sends at most two
    frames in any second, at least 0.5 s apart, each the newest frame at the
    moment it is sent, with none skipped for longer than the cap requires.
    """
    camera = Camera()
    connection = camera.connect(GET_CAPPED_FEED)
    sends: list[tuple[float, int]] = []

    def note_sends() -> None:
        for number in connection.sent()[len(sends) :]:
            sends.append((camera.clock.seconds(), number))
            assert number == camera.pushed, "a send was not the newest frame"

    camera.push()
    note_sends()
    for _ in range(40):
        camera.advance(0.1)
        note_sends()
        camera.push()
        note_sends()
    times = [when for when, _ in sends]
    numbers = [number for _, number in sends]
    assert numbers == sorted(set(numbers))
    # Float clock arithmetic may let a deadline slip to the next 0.1 s tick,
    # never further.
    for earlier, later in pairwise(times):
        assert 0.5 - 1e-9 <= later - earlier <= 0.6 + 1e-9
    for start in times:
        assert sum(start <= when < start + 1 - 1e-9 for when in times) <= 2
    # 4 s of frames at 2 frames a second.
    assert 7 <= len(sends) <= 9
    assert camera.viewer().frames_sent == len(sends)


def test_fps_cap_exact_schedule() -> None:
    """
    With C{?fps=2} and a frame every 0.125 s, the first frame goes out at
    once and then the cap timer sends the newest pending frame at each
    deadline: frames 1, 4, 8, 12.
    """
    camera = Camera()
    connection = camera.connect(GET_CAPPED_FEED)
    camera.push()
    for _ in range(12):
        camera.advance(0.125)
        camera.push()
    assert connection.sent() == [1, 4, 8, 12]
    camera.advance(0.5)
    assert connection.sent() == [1, 4, 8, 12, 13]


def test_fps_cap_timer_sends_pending_at_deadline() -> None:
    """
    A frame held back by the cap is sent by the cap's timer exactly at the
    deadline, without waiting for another frame.
    """
    camera = Camera()
    connection = camera.connect(GET_CAPPED_FEED)
    camera.push()
    camera.advance(0.125)
    camera.push()
    camera.advance(0.125)
    camera.push()
    assert connection.sent() == [1]
    camera.advance(0.125)
    assert connection.sent() == [1]
    camera.advance(0.125)
    assert connection.sent() == [1, 3]
    camera.advance(1)
    assert connection.sent() == [1, 3]


def test_fps_cap_and_pause() -> None:
    """
    A frame held back by the cap while the connection is paused is sent on
    resume, once.
    """
    camera = Camera()
    connection = camera.connect(GET_CAPPED_FEED)
    camera.push()
    camera.advance(0.25)
    camera.push()
    connection.pause()
    camera.advance(0.25)
    assert connection.sent() == [1]
    connection.resume()
    assert connection.sent() == [1, 2]
    camera.advance(0.5)
    assert connection.sent() == [1, 2]


def test_uncapped_viewer_beside_capped_one() -> None:
    """
    A cap applies to its own viewer only.
    """
    camera = Camera()
    capped = camera.connect(GET_CAPPED_FEED)
    free = camera.connect()
    camera.push()
    for _ in range(3):
        camera.advance(0.125)
        camera.push()
    assert free.sent() == [1, 2, 3, 4]
    assert capped.sent() == [1]


def test_camera_failure_keeps_stream_open(camera: Camera, log: LogRecorder) -> None:
    """
    A camera failing mid-stream does not end the response: the viewer stays
    subscribed, and frames flow again once the hub has restarted it.
    """
    connection = streaming(camera)
    camera.source.fail(OSError("unplugged"))
    assert camera.hub.viewers == 1
    camera.advance(0.5)
    assert camera.source.starts == 2
    camera.push()
    assert connection.sent() == [1, 2]
    assert not connection.closed
    assert [event["log_level"] for event in log.events].count(LogLevel.warn) == 1
    assert all(event.get("log_failure") is None for event in log.events)


# Stall watchdog


def test_stalled_viewer_is_aborted(camera: Camera, log: LogRecorder) -> None:
    """
    A connection paused for the stall timeout (30 s by default) is aborted,
    and its viewer unsubscribed, without an error.
    """
    connection = streaming(camera)
    connection.pause()
    camera.push()
    camera.advance(29.9)
    assert not connection.closed
    assert camera.hub.viewers == 1
    camera.advance(0.1)
    assert connection.transport.disconnected
    assert connection.closed
    assert camera.hub.viewers == 0
    assert_no_trouble(log)


def test_stall_timeout_is_configurable(log: LogRecorder) -> None:
    """
    C{camera_resource(..., stall_timeout=)} sets the stall timeout.
    """
    camera = Camera(stall_timeout=5)
    connection = streaming(camera)
    connection.pause()
    camera.advance(4.9)
    assert not connection.closed
    camera.advance(0.1)
    assert connection.transport.disconnected
    assert camera.hub.viewers == 0
    assert_no_trouble(log)


def test_resumed_viewer_is_not_aborted(camera: Camera) -> None:
    """
    A connection paused and resumed within the stall timeout stays open
    however long it streams afterwards.
    """
    connection = streaming(camera)
    connection.pause()
    camera.advance(29)
    connection.resume()
    camera.advance(60)
    assert not connection.closed
    assert not connection.transport.disconnected
    assert camera.hub.viewers == 1


def test_stall_measured_from_latest_pause(camera: Camera) -> None:
    """
    A pause that started after an earlier one ended gets the whole stall
    timeout of its own.
    """
    connection = streaming(camera)
    connection.pause()
    camera.advance(20)
    connection.resume()
    camera.advance(5)
    connection.pause()
    camera.advance(29.9)
    assert not connection.closed
    camera.advance(0.1)
    assert connection.transport.disconnected
    assert camera.hub.viewers == 0


# Leaving and shutdown


def test_client_leaving(camera: Camera, log: LogRecorder) -> None:
    """
    When the client closes the connection the viewer unsubscribes, nothing
    more is written, and nothing is logged as an error.
    """
    connection = streaming(camera)
    connection.leave()
    assert camera.hub.viewers == 0
    before = connection.raw()
    camera.push()
    camera.advance(5)
    assert connection.raw() == before
    assert_no_trouble(log)


def test_client_leaving_releases_camera(camera: Camera) -> None:
    """
    Once the last viewer has left, the camera stops after the idle timeout.
    """
    connection = streaming(camera)
    connection.leave()
    camera.advance(9.9)
    assert not camera.source.stop_requested
    camera.advance(0.1)
    assert camera.source.stop_requested


def test_transport_stops_producer_then_loses_connection(
    camera: Camera, log: LogRecorder
) -> None:
    """
    A real transport stops its producer before reporting the connection
    lost; the viewer unsubscribes at the first and the second is harmless.
    """
    connection = streaming(camera)
    connection.channel.stopProducing()
    assert camera.hub.viewers == 0
    connection.leave()
    assert camera.hub.viewers == 0
    assert_no_trouble(log)


def test_client_leaving_before_first_frame(camera: Camera, log: LogRecorder) -> None:
    """
    A viewer leaving before the first frame stops waiting: no viewer is
    subscribed when the frame comes, nothing is written, no error.
    """
    connection = camera.connect()
    connection.leave()
    camera.push()
    assert camera.hub.viewers == 0
    assert connection.raw() == b""
    assert_no_trouble(log)


def test_client_leaving_while_paused_and_capped(
    log: LogRecorder,
) -> None:
    """
    A viewer leaving while paused, with a frame held back by its cap, drops
    its timers: nothing is written or aborted later, and no error logged.
    """
    camera = Camera()
    connection = camera.connect(GET_CAPPED_FEED)
    camera.push()
    camera.advance(0.125)
    camera.push()
    connection.pause()
    viewer = camera.viewer()
    assert viewer._cap_call is not None
    assert viewer._stall_call is not None
    connection.leave()
    assert camera.hub.viewers == 0
    assert viewer._cap_call is None
    assert viewer._stall_call is None
    before = connection.raw()
    camera.push()
    camera.advance(60)
    assert connection.raw() == before
    assert not connection.transport.disconnected
    assert_no_trouble(log)


def test_shutdown_ends_response(camera: Camera, log: LogRecorder) -> None:
    """
    Shutting the hub down ends the stream after the last complete part, with
    no chunk terminator, and closes the connection gracefully.
    """
    connection = streaming(camera)
    camera.push()
    camera.hub.shutdown()
    assert connection.closed
    assert not connection.transport.disconnected
    assert connection.response().body == PREAMBLE + part_bytes(1) + part_bytes(2)
    assert camera.hub.viewers == 0
    assert connection.channel._requestProducer is None
    assert_no_trouble(log)


def test_shutdown_while_paused(camera: Camera, log: LogRecorder) -> None:
    """
    Shutting down while the connection is paused drops the held-back frame
    and still ends the response and closes the connection cleanly.
    """
    connection = streaming(camera)
    connection.pause()
    camera.push()
    camera.hub.shutdown()
    assert connection.closed
    assert not connection.transport.disconnected
    assert connection.response().body == PREAMBLE + part_bytes(1)
    camera.advance(60)
    assert not connection.transport.disconnected
    assert_no_trouble(log)


# Unavailable cameras


def test_source_failure_before_first_frame(camera: Camera) -> None:
    """
    A camera that fails before its first frame gets the waiting viewer a
    C{503} with a one-line plain-text reason, and no stream headers.
    """
    connection = camera.connect()
    camera.source.fail(OSError("no such device"))
    response = connection.response()
    assert response.status == b"HTTP/1.1 503 Service Unavailable"
    assert response.headers[b"content-type"] == [b"text/plain; charset=utf-8"]
    assert b"multipart" not in connection.raw()
    assert dechunk(response.body) == b"camera cam failed: no such device\n"
    assert camera.hub.viewers == 0


def test_start_timeout(camera: Camera) -> None:
    """
    A camera that gives no frame within the start timeout (10 s) gets the
    waiting viewer a C{503} saying so.
    """
    connection = camera.connect()
    camera.advance(9.9)
    assert connection.raw() == b""
    camera.advance(0.1)
    response = connection.response()
    assert response.status == b"HTTP/1.1 503 Service Unavailable"
    assert b"multipart" not in connection.raw()
    assert dechunk(response.body) == b"camera cam gave no frame within 10 s\n"
    assert camera.hub.viewers == 0


def test_shutdown_while_waiting(camera: Camera) -> None:
    """
    A viewer still waiting for the first frame when the hub shuts down gets
    a C{503}.
    """
    connection = camera.connect()
    camera.hub.shutdown()
    response = connection.response()
    assert response.status == b"HTTP/1.1 503 Service Unavailable"
    assert dechunk(response.body) == b"camserve is shutting down\n"


# Interfaces


def test_viewer_provides_interfaces(camera: Camera) -> None:
    """
    A viewer is a push producer and a frame sink.
    """
    streaming(camera)
    viewer = camera.viewer()
    assert verifyObject(IPushProducer, viewer)
    assert verifyObject(IFrameSink, viewer)
