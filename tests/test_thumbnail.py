"""
Tests for L{camserve.camera._thumbnail}: L{shrink} on real JPEGs made with OpenCV,
and L{ThumbnailSource} and L{thumbnail_hub} driven by a L{Clock}, a
hand-driven L{PushSource} camera and a stand-in for the thread pool whose
jobs the tests finish by hand, so every thumbnail is made at an exact
moment; one test runs the real thing on the reactor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from attrs import define, field
from support import reactor, reactor_test, wait_until
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.verify import verifyObject

from camserve import THUMBNAIL, CameraHub, CameraService, CameraUnavailable, HubState
from camserve._jpeg import jpeg_size
from camserve.camera._thumbnail import (
    THUMBNAIL_WIDTH,
    ThumbnailSource,
    shrink,
    thumbnail_hub,
)
from camserve.interfaces import IFrameSink, IFrameSource
from camserve.testing import PushSource, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable

    from support import LogRecorder

    from camserve import Frame

cv2 = pytest.importorskip("cv2")

BASE_TIME = 1_700_000_000.0
"""Capture times are C{BASE_TIME + number / 4}: exact in binary."""


def picture(width: int, height: int) -> np.ndarray:
    """
    A smooth colour picture of the given size, with a diagonal band, so a
    copy scaled down the right way looks like it and any other does not.
    """
    x = np.linspace(0, 255, width, dtype=np.float32)[np.newaxis, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, np.newaxis]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = np.broadcast_to(x, (height, width))
    image[..., 1] = np.broadcast_to(y, (height, width))
    image[..., 2] = np.broadcast_to((x + y) % 256, (height, width))
    return image


def encode(image: np.ndarray, quality: int = 95) -> bytes:
    """
    C{image} as a JPEG.
    """
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(encoded.tobytes())


def decode(jpeg: bytes) -> np.ndarray:
    """
    A JPEG's pixels, at full size.
    """
    image: np.ndarray | None = cv2.imdecode(
        np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR
    )
    assert image is not None
    return image


# shrink


@pytest.mark.parametrize(
    ("size", "reduced"),
    [
        ((640, 480), (320, 240)),
        ((1920, 1080), (480, 270)),
        ((1280, 720), (320, 180)),
        ((2560, 1440), (320, 180)),
        ((1000, 750), (500, 375)),
    ],
)
def test_shrink_reduces_to_the_smallest_scale_wide_enough(
    size: tuple[int, int], reduced: tuple[int, int]
) -> None:
    """
    A JPEG is decoded at the smallest of a half, a quarter and an eighth
    that is at least 320 pixels wide (exactly 320 counts), and re-encoded:
    the result is a JPEG of that size showing the same picture.
    """
    width, height = size
    original = picture(width, height)
    small = shrink(encode(original))
    assert jpeg_size(small) == reduced
    image = decode(small)
    assert image.shape == (reduced[1], reduced[0], 3)
    expected = cv2.resize(original, reduced, interpolation=cv2.INTER_AREA)
    difference = np.abs(image.astype(np.int16) - expected.astype(np.int16))
    assert float(difference.mean()) < 4


@pytest.mark.parametrize("size", [(320, 240), (639, 480), (200, 150)])
def test_shrink_leaves_small_jpegs_untouched(size: tuple[int, int]) -> None:
    """
    A JPEG less than twice 320 pixels wide has no reduction wide enough: it
    is returned as it is, the same bytes.
    """
    jpeg = encode(picture(*size))
    assert shrink(jpeg) is jpeg


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a jpeg at all",
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        # A JPEG's start and a frame header of 1920x1080, and no image data:
        # its size reads as large but OpenCV cannot decode it.
        (
            b"\xff\xd8\xff\xc0\x00\x11\x08\x04\x38\x07\x80\x03"
            b"\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9"
        ),
    ],
)
def test_shrink_leaves_what_is_no_jpeg_untouched(data: bytes) -> None:
    """
    Bytes that are not a JPEG, or a JPEG OpenCV cannot decode, are returned
    as they are.
    """
    assert shrink(data) is data


def test_shrink_width_and_quality() -> None:
    """
    C{width} sets the narrowest a thumbnail may be, and C{quality} the JPEG
    quality it is encoded with.
    """
    jpeg = encode(picture(640, 480))
    assert jpeg_size(shrink(jpeg, width=80)) == (80, 60)
    assert jpeg_size(shrink(jpeg, width=81)) == (160, 120)
    assert shrink(jpeg, width=321) is jpeg
    assert THUMBNAIL_WIDTH == 320
    rough = shrink(jpeg, quality=20)
    fine = shrink(jpeg, quality=95)
    assert jpeg_size(rough) == jpeg_size(fine) == (320, 240)
    assert len(rough) < len(fine) * 0.6
    assert shrink(jpeg, quality=75) == shrink(jpeg)


# ThumbnailSource


@define
class Job:
    """
    A call that would run in a thread, with the Deferred of its result.
    """

    function: Callable[[bytes], bytes]
    argument: bytes
    result: Deferred[bytes]

    def finish(self, thumbnail: bytes) -> None:
        """
        The thread returns C{thumbnail}.
        """
        self.result.callback(thumbnail)

    def run(self) -> None:
        """
        The thread runs the function for real.
        """
        self.result.callback(self.function(self.argument))

    def fail(self, error: Exception) -> None:
        """
        The function raises C{error} in the thread.
        """
        self.result.errback(Failure(error))


@define
class Threads:
    """
    Stands in for C{deferToThreadPool}: records each call as a L{Job}.
    """

    jobs: list[Job] = field(factory=list)

    def __call__(
        self, function: Callable[[bytes], bytes], argument: bytes
    ) -> Deferred[bytes]:
        job = Job(function, argument, Deferred())
        self.jobs.append(job)
        return job.result

    @property
    def running(self) -> list[Job]:
        """
        The jobs not finished yet.
        """
        return [job for job in self.jobs if not job.result.called]

    def only_job(self) -> Job:
        """
        The one job running, which must exist.
        """
        (job,) = self.running
        return job


@define
class Thumbnails:
    """
    A L{ThumbnailSource} of a camera fed by a L{PushSource}, started by hand,
    recording what it delivers and how it stops.
    """

    clock: Clock = field(factory=Clock)
    source: PushSource = field(factory=PushSource)
    threads: Threads = field(factory=Threads)
    camera: CameraHub = field(init=False)
    thumbnails: ThumbnailSource = field(init=False)
    delivered: list[tuple[bytes, float]] = field(factory=list)
    stopped: list[Failure | None] = field(factory=list)
    pushed: int = 0

    def __attrs_post_init__(self) -> None:
        self.camera = CameraHub("cam", self.source, self.clock, driver="push")
        self.thumbnails = ThumbnailSource(self.camera, self.threads)

    def start(self) -> None:
        """
        Start the thumbnails, as their hub does.
        """
        self.thumbnails.start(
            lambda jpeg, captured_at: self.delivered.append((jpeg, captured_at)),
            self.stopped.append,
        )

    def push(self) -> int:
        """
        The camera delivers its next frame; return its number.
        """
        self.pushed += 1
        self.source.push(make_jpeg(self.pushed), BASE_TIME + self.pushed / 4)
        return self.pushed


def small(number: int) -> bytes:
    """
    What the tests' thread returns as the thumbnail of frame C{number}.
    """
    return b"thumbnail %d" % number


def at(number: int) -> float:
    """
    The capture time of frame C{number}.
    """
    return BASE_TIME + number / 4


@pytest.fixture
def thumbnails() -> Thumbnails:
    """
    Thumbnails of a camera, not started.
    """
    return Thumbnails()


def test_start_follows_the_camera(thumbnails: Thumbnails) -> None:
    """
    Starting the thumbnails subscribes them to the camera's hub, which
    starts the camera and counts them as one viewer; nothing is shrunk
    before a frame comes.
    """
    assert thumbnails.source.starts == 0
    thumbnails.start()
    assert thumbnails.camera.consumers.get(THUMBNAIL, 0) == 1
    assert thumbnails.source.starts == 1
    assert thumbnails.threads.jobs == []
    assert thumbnails.delivered == []
    assert thumbnails.stopped == []


def test_each_frame_is_shrunk_in_a_thread(thumbnails: Thumbnails) -> None:
    """
    Each frame of the camera is passed to L{shrink} in a thread, and what
    that returns is delivered with the frame's capture time.
    """
    thumbnails.start()
    thumbnails.push()
    job = thumbnails.threads.only_job()
    assert job.function is shrink
    assert job.argument == make_jpeg(1)
    assert thumbnails.delivered == []
    job.finish(small(1))
    assert thumbnails.delivered == [(small(1), at(1))]
    thumbnails.push()
    job = thumbnails.threads.only_job()
    assert job.argument == make_jpeg(2)
    job.finish(small(2))
    assert thumbnails.delivered == [(small(1), at(1)), (small(2), at(2))]
    assert len(thumbnails.threads.jobs) == 2


def test_one_at_a_time_newest_waiting_wins(thumbnails: Thumbnails) -> None:
    """
    While a thumbnail is being made no other job starts; of the frames that
    come meanwhile only the newest waits, and is shrunk next; the others are
    skipped.
    """
    thumbnails.start()
    thumbnails.push()
    for _ in range(3):
        thumbnails.push()
    first = thumbnails.threads.only_job()
    assert first.argument == make_jpeg(1)
    first.finish(small(1))
    assert thumbnails.delivered == [(small(1), at(1))]
    second = thumbnails.threads.only_job()
    assert second.argument == make_jpeg(4)
    second.finish(small(4))
    assert thumbnails.delivered == [(small(1), at(1)), (small(4), at(4))]
    assert thumbnails.threads.running == []
    assert len(thumbnails.threads.jobs) == 2


def test_keepalives_are_not_shrunk(thumbnails: Thumbnails) -> None:
    """
    The camera's keepalives make no thumbnails: the thumbnails' own hub
    repeats its newest.
    """
    thumbnails.start()
    thumbnails.push()
    thumbnails.threads.only_job().finish(small(1))
    thumbnails.clock.advance(10)
    assert len(thumbnails.threads.jobs) == 1
    assert thumbnails.delivered == [(small(1), at(1))]


def test_shrinks_for_real(thumbnails: Thumbnails) -> None:
    """
    The function run in the thread makes a 640x480 frame 320x240.
    """
    thumbnails.start()
    big = encode(picture(640, 480))
    thumbnails.source.push(big, 12.5)
    thumbnails.threads.only_job().run()
    ((thumbnail, captured_at),) = thumbnails.delivered
    assert jpeg_size(thumbnail) == (320, 240)
    assert captured_at == 12.5


def test_stop_while_idle(thumbnails: Thumbnails) -> None:
    """
    Stopping with no thumbnail being made leaves the camera and reports
    stopped, with no failure, at once.
    """
    thumbnails.start()
    thumbnails.push()
    thumbnails.threads.only_job().finish(small(1))
    thumbnails.thumbnails.stop()
    assert thumbnails.camera.consumers.get(THUMBNAIL, 0) == 0
    assert thumbnails.stopped == [None]
    assert thumbnails.delivered == [(small(1), at(1))]


def test_stop_while_busy(thumbnails: Thumbnails) -> None:
    """
    Stopping while a thumbnail is being made leaves the camera at once, but
    reports stopped only once the job has finished; that thumbnail and the
    frame waiting are not delivered, and no other job starts.
    """
    thumbnails.start()
    thumbnails.push()
    thumbnails.push()
    thumbnails.thumbnails.stop()
    assert thumbnails.camera.consumers.get(THUMBNAIL, 0) == 0
    assert thumbnails.stopped == []
    thumbnails.threads.only_job().finish(small(1))
    assert thumbnails.stopped == [None]
    assert thumbnails.delivered == []
    assert len(thumbnails.threads.jobs) == 1


def test_failure_in_the_thread(thumbnails: Thumbnails) -> None:
    """
    A job that fails ends the thumbnails with that failure: they leave the
    camera and deliver nothing more, the frame waiting included.
    """
    thumbnails.start()
    thumbnails.push()
    thumbnails.push()
    thumbnails.threads.only_job().fail(ValueError("corrupt JPEG"))
    (failure,) = thumbnails.stopped
    assert failure is not None
    assert isinstance(failure.value, ValueError)
    assert str(failure.value) == "corrupt JPEG"
    assert thumbnails.camera.consumers.get(THUMBNAIL, 0) == 0
    assert thumbnails.delivered == []
    assert len(thumbnails.threads.jobs) == 1


def test_failure_after_stop_is_a_stop(thumbnails: Thumbnails) -> None:
    """
    A job that fails after the thumbnails were asked to stop reports a
    plain stop, as L{IFrameSource} asks: its hub wanted them stopped and
    they are.
    """
    thumbnails.start()
    thumbnails.push()
    thumbnails.thumbnails.stop()
    thumbnails.threads.only_job().fail(ValueError("corrupt JPEG"))
    assert thumbnails.stopped == [None]
    assert thumbnails.camera.consumers.get(THUMBNAIL, 0) == 0


def test_restart_after_failure_forgets_the_frame_waiting(
    thumbnails: Thumbnails,
) -> None:
    """
    A frame that was waiting when a job failed is not shrunk after a
    restart: only frames from the new run are, in order.
    """
    thumbnails.start()
    thumbnails.push()
    thumbnails.push()
    thumbnails.threads.only_job().fail(ValueError("corrupt JPEG"))
    thumbnails.start()
    assert thumbnails.camera.consumers.get(THUMBNAIL, 0) == 1
    thumbnails.push()
    job = thumbnails.threads.only_job()
    assert job.argument == make_jpeg(3)
    job.finish(small(3))
    assert thumbnails.delivered == [(small(3), at(3))]
    assert thumbnails.threads.running == []


def test_camera_shut_down_while_idle(thumbnails: Thumbnails) -> None:
    """
    The camera's hub shutting down ends the thumbnails at once with a
    failure saying so.
    """
    thumbnails.start()
    thumbnails.camera.shutdown()
    (failure,) = thumbnails.stopped
    assert failure is not None
    assert isinstance(failure.value, RuntimeError)
    assert str(failure.value) == "the camera was shut down"


def test_camera_shut_down_while_busy(thumbnails: Thumbnails) -> None:
    """
    The camera's hub shutting down while a thumbnail is being made ends the
    thumbnails with that failure once the job has finished, delivering
    nothing more.
    """
    thumbnails.start()
    thumbnails.push()
    thumbnails.push()
    thumbnails.camera.shutdown()
    assert thumbnails.stopped == []
    thumbnails.threads.only_job().finish(small(1))
    (failure,) = thumbnails.stopped
    assert failure is not None
    assert isinstance(failure.value, RuntimeError)
    assert str(failure.value) == "the camera was shut down"
    assert thumbnails.delivered == []
    assert len(thumbnails.threads.jobs) == 1


def test_start_on_a_shut_down_camera(thumbnails: Thumbnails) -> None:
    """
    Starting the thumbnails of a camera that is shut down reports them
    stopped at once, with the hub's L{CameraUnavailable}.
    """
    thumbnails.camera.shutdown()
    thumbnails.start()
    (failure,) = thumbnails.stopped
    assert failure is not None
    assert isinstance(failure.value, CameraUnavailable)
    assert str(failure.value) == "camera cam is shut down"
    assert thumbnails.threads.jobs == []


def test_source_provides_interfaces(thumbnails: Thumbnails) -> None:
    """
    The thumbnails are a frame source of their own hub and a frame sink of
    the camera's.
    """
    assert verifyObject(IFrameSource, thumbnails.thumbnails)
    assert verifyObject(IFrameSink, thumbnails.thumbnails)


# thumbnail_hub


@implementer(IFrameSink)
class Sink:
    """
    A sink of the thumbnails' hub that keeps the frames it is sent.
    """

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.keepalives: list[Frame] = []
        self.closed = 0

    def send_frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def keep_alive(self, frame: Frame) -> None:
        self.keepalives.append(frame)

    def camera_closed(self) -> None:
        self.closed += 1


@define
class Grid:
    """
    A camera's hub and the hub of its thumbnails, on one clock.
    """

    clock: Clock = field(factory=Clock)
    source: PushSource = field(factory=PushSource)
    threads: Threads = field(factory=Threads)
    camera: CameraHub = field(init=False)
    thumbnails: CameraHub = field(init=False)
    pushed: int = 0

    def __attrs_post_init__(self) -> None:
        self.camera = CameraHub(
            "front door",
            self.source,
            self.clock,
            driver="push",
            idle_timeout=10,
            start_timeout=4,
            keepalive_interval=3,
        )
        self.thumbnails = thumbnail_hub(self.camera, self.threads, self.clock)

    def push(self) -> int:
        """
        The camera delivers its next frame; return its number.
        """
        self.pushed += 1
        self.source.push(make_jpeg(self.pushed), BASE_TIME + self.pushed / 4)
        return self.pushed


@pytest.fixture
def grid() -> Grid:
    """
    A camera and its thumbnails, nobody watching.
    """
    return Grid()


def test_hub_is_named_for_the_camera(grid: Grid) -> None:
    """
    The thumbnails' hub has the camera's name (so a stream's parts name the
    camera), driver and timeouts, except an idle timeout of 0.
    """
    hub = grid.thumbnails
    assert hub.name == "front door"
    assert hub.driver == "push"
    assert hub.idle_timeout == 0
    assert hub.start_timeout == 4
    assert hub.keepalive_interval == 3
    assert hub.state is HubState.IDLE
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 0


def test_viewers_of_thumbnails_are_one_viewer_of_the_camera(grid: Grid) -> None:
    """
    However many watch the thumbnails, the camera counts them as one
    thumbnail consumer (no viewer) while they follow it, and each frame is shrunk once for them all;
    frames are numbered by the thumbnails' hub, named for the camera, and
    carry the camera's capture time.
    """
    first, second = Sink(), Sink()
    grid.thumbnails.subscribe(first)
    grid.thumbnails.subscribe(second)
    assert grid.thumbnails.viewers == 2
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 1
    assert grid.source.starts == 1
    grid.push()
    grid.threads.only_job().finish(small(1))
    grid.push()
    grid.push()
    grid.threads.only_job().finish(small(2))
    grid.threads.only_job().finish(small(3))
    for sink in (first, second):
        assert [frame.jpeg for frame in sink.frames] == [small(1), small(2), small(3)]
        assert [frame.number for frame in sink.frames] == [1, 2, 3]
        assert [frame.captured_at for frame in sink.frames] == [at(1), at(2), at(3)]
        assert {frame.camera for frame in sink.frames} == {"front door"}
    assert len(grid.threads.jobs) == 3
    assert grid.thumbnails.state is HubState.RUNNING


def test_last_viewer_leaving_releases_the_camera_at_once(grid: Grid) -> None:
    """
    When the thumbnails' last viewer leaves they stop following the camera
    at once (their idle timeout is 0), and the camera's own idle timeout
    then decides when the camera stops.
    """
    sink = Sink()
    grid.thumbnails.subscribe(sink)
    grid.push()
    grid.threads.only_job().finish(small(1))
    grid.clock.advance(5)
    grid.thumbnails.unsubscribe(sink)
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 1
    grid.clock.advance(0)
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 0
    assert grid.thumbnails.state is HubState.IDLE
    grid.clock.advance(9.9)
    assert not grid.source.stop_requested
    grid.clock.advance(0.1)
    assert grid.source.stop_requested


def test_last_viewer_leaving_while_a_thumbnail_is_made(grid: Grid) -> None:
    """
    When the last viewer leaves while a thumbnail is being made, the camera
    is released at once; the thumbnails' hub is idle once the job is done,
    and that thumbnail reaches nobody.
    """
    sink = Sink()
    grid.thumbnails.subscribe(sink)
    grid.push()
    grid.thumbnails.unsubscribe(sink)
    grid.clock.advance(0)
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 0
    grid.threads.only_job().finish(small(1))
    assert grid.thumbnails.state is HubState.IDLE
    assert grid.thumbnails.frames_captured == 0
    assert sink.frames == []
    again = Sink()
    grid.thumbnails.subscribe(again)
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 1
    grid.push()
    grid.threads.only_job().finish(small(2))
    assert [frame.jpeg for frame in again.frames] == [small(2)]


def test_failure_in_the_thread_fails_the_thumbnails_hub(
    grid: Grid, log: LogRecorder
) -> None:
    """
    A failure in the thread is reported to the thumbnails' hub as a failure
    (logged under the thumbnails' label), which retries after its backoff,
    following the camera again.
    """
    sink = Sink()
    grid.thumbnails.subscribe(sink)
    grid.push()
    grid.threads.only_job().fail(ValueError("corrupt JPEG"))
    assert grid.thumbnails.state is HubState.FAILED
    assert grid.thumbnails.health()["last_error"] == "corrupt JPEG"
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 0
    assert grid.camera.state is HubState.RUNNING
    assert log.formatted() == [
        (
            "camera front door (thumbnails) failed: corrupt JPEG;"
            " retrying while viewers remain"
        )
    ]
    grid.clock.advance(0.5)
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 1
    grid.push()
    grid.threads.only_job().finish(small(2))
    assert [frame.jpeg for frame in sink.frames] == [small(2)]
    assert grid.thumbnails.health()["state"] == "running"


def test_thumbnails_hub_shut_down(grid: Grid) -> None:
    """
    Shutting the thumbnails' hub down ends its viewers and releases the
    camera.
    """
    sink = Sink()
    grid.thumbnails.subscribe(sink)
    grid.push()
    grid.threads.only_job().finish(small(1))
    released = grid.thumbnails.shutdown()
    assert sink.closed == 1
    assert grid.camera.consumers.get(THUMBNAIL, 0) == 0
    assert released.called


# The real thing


@reactor_test
async def test_thumbnails_of_a_scripted_camera() -> None:
    """
    A service on the real reactor makes a camera's thumbnails in its
    thread pool on first use: 640x480 frames arrive 320x240, with the
    camera's name, while the camera counts one viewer for them.
    """
    frames = [encode(picture(640, 480)), encode(255 - picture(640, 480))]
    camera = ScriptedCamera(frames, fps=30)
    service = CameraService(reactor)
    hub = service.add_camera("cam", camera)
    service.startService()
    sink = Sink()
    try:
        thumbnails = service.thumbnails("cam")
        assert service.thumbnails("cam") is thumbnails
        assert service.thumbnail_hubs == {"cam": thumbnails}
        thumbnails.subscribe(sink)
        await wait_until(lambda: len(sink.frames) >= 3, "three thumbnails came")
        for frame in sink.frames:
            assert jpeg_size(frame.jpeg) == (320, 240)
            assert frame.jpeg not in frames
            assert frame.camera == "cam"
        assert [frame.number for frame in sink.frames[:3]] == [1, 2, 3]
        assert hub.consumers == {THUMBNAIL: 1}
        thumbnails.unsubscribe(sink)
        await wait_until(lambda: not hub.consumers, "the thumbnails left")
    finally:
        await service.stopService()
    assert not camera.is_open
