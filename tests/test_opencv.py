"""
Tests for L{camserve.cameras.opencv}: its pure parts (options, geometry,
JPEG checks, pacing) with injected clocks, its frames from real video files
written here with OpenCV, and real camserve servers on 127.0.0.1 serving
those files, failing sources and another camserve's stream.

No camera device exists here: devices are tested only as far as a missing
one goes.
"""

from __future__ import annotations

import gc
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import cv2
import numpy as np
import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import (
    free_port,
    reactor,
    reactor_test,
    read_head,
    read_parts,
    receive,
    send_get,
    wait_until,
)
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel
from twisted.web.server import Site
from zope.interface.verify import verifyObject

from camserve import (
    CameraHub,
    CameraService,
    ConfigError,
    EmulatedCamera,
    HubState,
    ICamera,
    IHealthDetails,
    camera_resource,
    make_camera,
)
from camserve._jpeg import whole_jpeg
from camserve.cameras import opencv
from camserve.cameras._opencv_source import Source, parse_source
from camserve.cameras._pacing import Pacer, RateLimiter, next_timestamp
from camserve.cameras._registry import describe_drivers
from camserve.cameras._transform import make_plan
from camserve.cameras.opencv import OpenCVCamera
from camserve.testing import MultipartParser, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from support import LogRecorder

    from camserve.testing import Part

TIMEOUT = 10.0
"""Seconds any single wait may take before the test fails."""

REPO = Path(__file__).resolve().parent.parent


# Video files, made with OpenCV and read back without it.


def picture(number: int, width: int = 320, height: int = 240) -> np.ndarray:
    """
    A BGR picture that tells C{number} apart from its neighbours and has
    no symmetry, so that a rotation or a mirror shows.
    """
    y, x = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 0] = (x * 255 // width).astype(np.uint8)
    image[:, :, 1] = (y * 255 // height).astype(np.uint8)
    image[:, :, 2] = (number * 37) % 256
    # A white block in the top left corner only.
    image[: height // 4, : width // 5] = 255
    cv2.putText(
        image,
        str(number),
        (width // 3, height * 2 // 3),
        cv2.FONT_HERSHEY_SIMPLEX,
        height / 80,
        (0, 0, 0),
        3,
    )
    return image


def write_video(
    path: Path, fourcc: str, fps: float, count: int, size: tuple[int, int] = (320, 240)
) -> list[np.ndarray]:
    """
    Write C{count} pictures to C{path} with C{cv2.VideoWriter} at C{fps};
    the pictures.
    """
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    pictures = [picture(number, *size) for number in range(count)]
    try:
        for image in pictures:
            writer.write(image)
    finally:
        writer.release()
    return pictures


def avi_chunks(path: Path) -> list[tuple[int, bytes]]:
    """
    The video chunks (C{00dc}) of an AVI file, each with its offset in the
    file, read from the RIFF structure by hand: the frames as stored.
    """
    data = path.read_bytes()
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"AVI "
    found: list[tuple[int, bytes]] = []

    def walk(start: int, end: int) -> None:
        position = start
        while position + 8 <= end:
            kind = data[position : position + 4]
            size = int.from_bytes(data[position + 4 : position + 8], "little")
            body = position + 8
            if kind in (b"RIFF", b"LIST"):
                walk(body + 4, body + size)
            elif kind[2:] == b"dc":
                found.append((body, data[body : body + size]))
            position = body + size + (size & 1)

    walk(12, len(data))
    return found


def mjpeg_file(path: Path, fps: float, count: int) -> list[bytes]:
    """
    Write an MJPEG AVI file of C{count} frames at C{fps}; the JPEGs stored
    in it.
    """
    write_video(path, "MJPG", fps, count)
    jpegs = [chunk for _, chunk in avi_chunks(path)]
    assert len(jpegs) == count
    assert all(whole_jpeg(jpeg) == jpeg for jpeg in jpegs)
    return jpegs


def decode(jpeg: bytes) -> np.ndarray:
    """
    A JPEG decoded to BGR.
    """
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG OpenCV decodes"
    return image


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """
    The mean absolute difference of two pictures of one shape.
    """
    assert a.shape == b.shape
    return float(np.mean(cv2.absdiff(a, b)))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """
    An MJPEG AVI file of 40 frames at 20 fps, and its JPEGs.
    """
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    return path, mjpeg_file(path, 20.0, 40)


def take(camera: OpenCVCamera, count: int) -> list[tuple[bytes, float]]:
    """
    The first C{count} frames of C{camera}, its generator closed after.
    """
    frames = camera.frames()
    try:
        return [next(frames) for _ in range(count)]
    finally:
        frames.close()


# The driver's contract and options.


def test_provides_its_interfaces() -> None:
    """
    The opencv camera is an L{ICamera} with health details.
    """
    camera = OpenCVCamera()
    assert verifyObject(ICamera, camera)
    assert verifyObject(IHealthDetails, camera)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rotate": 45}, "rotate must be 0, 90, 180 or 270, not 45"),
        (
            {"flip": "sideways"},
            "flip must be none, horizontal, vertical or both, not 'sideways'",
        ),
        ({"quality": 0}, "quality must be from 1 to 100, not 0"),
        ({"fps": 0.0}, "fps must be greater than 0, not 0.0"),
        ({"fps": float("nan")}, "fps must be greater than 0, not nan"),
        ({"width": 8}, "width must be from 16 to 7680, not 8"),
        ({"height": 5000}, "height must be from 16 to 4320, not 5000"),
        ({"source": " "}, "source must not be empty"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    """
    Out-of-range options are refused with one line saying what is allowed.
    """
    with pytest.raises(ValueError, match=r".+") as caught:
        OpenCVCamera(**options)
    assert str(caught.value) == message


def test_registry_makes_it_from_text_options() -> None:
    """
    The registry knows the driver as C{opencv} and turns options given as
    text (as on the command line) into the types the driver declares.
    """
    camera = make_camera(
        "opencv",
        {
            "source": "clip.avi",
            "width": "320",
            "fps": "12.5",
            "loop": "off",
            "rotate": "90",
            "flip": "both",
        },
    )
    assert isinstance(camera, OpenCVCamera)
    assert (camera.width, camera.fps, camera.loop) == (320, 12.5, False)
    assert (camera.rotate, camera.flip) == (90, "both")
    with pytest.raises(ConfigError) as caught:
        make_camera("opencv", {"rotate": "45"})
    assert str(caught.value) == (
        "camera 'opencv': rotate must be 0, 90, 180 or 270, not 45"
    )
    (info,) = [info for info in describe_drivers() if info.name == "opencv"]
    assert info.usable
    assert info.description == OpenCVCamera.description


def test_without_opencv_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Where C{cv2} cannot be imported, asking for the driver fails with one
    line naming C{cv2} and how to install it, and the driver is listed as
    not usable.
    """
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ConfigError) as caught:
        make_camera("opencv", {"source": "0"})
    assert str(caught.value) == (
        "camera 'opencv' needs cv2, which is not installed: "
        "pip install opencv-python-headless"
    )
    (info,) = [info for info in describe_drivers() if info.name == "opencv"]
    assert not info.usable
    assert "cv2" in info.description


def test_module_imports_opencv_only_when_used() -> None:
    """
    Importing the driver module, and finding the driver, imports no OpenCV:
    camserve starts without it when another driver is used.
    """
    script = (
        "import sys\n"
        "from camserve import find_driver\n"
        "find_driver('opencv')\n"
        "print('cv2' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO)},
        timeout=TIMEOUT * 3,
    )
    assert result.stdout == "False\n"


def test_parse_source() -> None:
    """
    A number is a device index, a C{/dev/} path a device, anything with
    C{://} a stream, and anything else a file; a URL's password is never
    shown.
    """
    assert parse_source("0") == Source("device", 0, "0")
    assert parse_source("/dev/video2") == Source("device", "/dev/video2", "/dev/video2")
    assert parse_source("clips/a.avi").kind == "file"
    url = "rtsp://admin:s3cret@10.0.0.5:554/stream1?channel=1"
    source = parse_source(url)
    assert (source.kind, source.target) == ("stream", url)
    assert source.shown == "rtsp://admin:***@10.0.0.5:554/stream1?channel=1"
    assert parse_source("http://cam/video").shown == "http://cam/video"


# Geometry, JPEG checks, pacing.


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", ["none", "horizontal", "vertical", "both"])
def test_plan_rotates_then_mirrors(rotate: int, flip: str) -> None:
    """
    A plan's single transpose and mirror do what rotating clockwise by
    C{rotate} and then mirroring by C{flip} would, and nothing is done
    where they cancel out.
    """
    image = picture(5, 40, 30)
    expected = np.rot90(image, k=-rotate // 90)
    if flip in ("horizontal", "both"):
        expected = expected[:, ::-1]
    if flip in ("vertical", "both"):
        expected = expected[::-1]
    plan = make_plan((40, 30), width=None, height=None, rotate=rotate, flip=flip)
    assert np.array_equal(plan.apply(image), expected)
    # Rotating by 180 and mirroring both ways cancel out: no decode needed.
    assert plan.identity == ((rotate, flip) in ((0, "none"), (180, "both")))


def test_plan_sizes() -> None:
    """
    Width and height together are the size before rotation; one alone keeps
    the aspect ratio; the source's own size asks for no resize.
    """
    source = (640, 480)
    plan = make_plan(source, width=320, height=None, rotate=0, flip="none")
    assert plan.size == (320, 240)
    plan = make_plan(source, width=None, height=120, rotate=0, flip="none")
    assert plan.size == (160, 120)
    assert make_plan(source, width=640, height=480, rotate=0, flip="none").identity
    plan = make_plan(source, width=200, height=100, rotate=90, flip="none")
    assert plan.apply(picture(1, 640, 480)).shape == (200, 100, 3)


class FakeTime:
    """
    A clock that moves only when slept on, or when told to.
    """

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_pacer_keeps_the_recording_speed() -> None:
    """
    Frames are held until due on the schedule the first one sets; a frame
    late by a little is let through at once and the next are still due on
    the same schedule.
    """
    fake = FakeTime()
    pacer = Pacer(fake.clock, fake.sleep)
    released = []
    for timestamp in (0.0, 0.04, 0.08):
        pacer.wait(timestamp)
        released.append(fake.now)
    assert released == pytest.approx([100.0, 100.04, 100.08])
    fake.now += 0.1  # a slow decode: 0.12 is late, 0.16 is not
    pacer.wait(0.12)
    assert fake.now == pytest.approx(100.18)
    pacer.wait(0.16)
    assert fake.now == pytest.approx(100.18)
    pacer.wait(0.20)
    assert fake.now == pytest.approx(100.20)


def test_pacer_moves_the_schedule_after_a_long_stall() -> None:
    """
    A frame later than a quarter of a second starts a new schedule from
    itself, instead of a burst of every frame that fell due meanwhile.
    """
    fake = FakeTime()
    pacer = Pacer(fake.clock, fake.sleep)
    pacer.wait(0.0)
    fake.now += 2.0
    pacer.wait(0.04)
    assert fake.sleeps == []
    pacer.wait(0.08)
    assert fake.sleeps == pytest.approx([0.04])


def test_rate_limiter_caps_a_faster_source() -> None:
    """
    From a 50 fps source a 10 fps cap lets through 10 frames a second, never
    two closer than half an interval.
    """
    limiter = RateLimiter(10.0)
    kept = [n / 50 for n in range(200) if limiter.admit(n / 50)]
    assert len(kept) in (40, 41)
    assert min(b - a for a, b in itertools.pairwise(kept)) >= 0.05


def test_rate_limiter_keeps_every_frame_of_a_source_at_the_rate() -> None:
    """
    A source at the cap's rate, with jitter, loses no frame; after a pause
    the next frames are spaced again, with no burst.
    """
    limiter = RateLimiter(30.0)
    jitter = np.random.default_rng(1).uniform(-0.008, 0.008, 90)
    moments = [n / 30 + jitter[n] for n in range(90)]
    assert all(limiter.admit(moment) for moment in moments)
    assert limiter.admit(10.0)
    assert not limiter.admit(10.01)
    assert limiter.admit(10.034)


def test_next_timestamp() -> None:
    """
    A recording's timestamps are taken as they are while they advance
    sensibly; one that stands still, goes back or leaps counts as one
    nominal frame interval.
    """
    assert next_timestamp(0.0, -0.04, 0.04) == 0.0
    assert next_timestamp(0.08, 0.04, 0.04) == 0.08
    assert next_timestamp(0.04, 0.04, 0.04) == pytest.approx(0.08)
    assert next_timestamp(0.0, 3.0, 0.04) == pytest.approx(3.04)
    assert next_timestamp(3600.0, 3.0, 0.04) == pytest.approx(3.04)


# Frames from real files.


def test_mjpeg_file_passes_through(clip: tuple[Path, list[bytes]]) -> None:
    """
    An MJPEG file's frames are served as the very JPEGs stored in it, in
    order, at the file's rate, and again from the start after the last;
    health says passthrough.
    """
    path, jpegs = clip
    camera = OpenCVCamera(source=str(path))
    frames = camera.frames()
    try:
        got = [next(frames) for _ in range(len(jpegs) + 3)]
        details = camera.health_details()
    finally:
        frames.close()
    assert [jpeg for jpeg, _ in got] == jpegs + jpegs[:3]
    stamps = [stamp for _, stamp in got]
    # 42 intervals of 1/20 s, the loop's included.
    assert stamps[-1] - stamps[0] == pytest.approx(42 / 20, rel=0.1)
    assert details == {
        "source": str(path),
        "path": "passthrough",
        "backend": "FFMPEG",
        "width": 320,
        "height": 240,
        "source_fps": 20.0,
        "broken_frames": 0,
        "ended": False,
    }
    assert camera.health_details()["path"] is None


def test_other_codec_is_decoded_and_encoded(tmp_path: Path) -> None:
    """
    A file of another codec (MPEG-4 part 2) is decoded and encoded: valid
    JPEGs of its frames, and health says decode+encode.
    """
    path = tmp_path / "clip.avi"
    pictures = write_video(path, "FMP4", 50.0, 5)
    camera = OpenCVCamera(source=str(path), quality=90)
    frames = camera.frames()
    try:
        got = [decode(next(frames)[0]) for _ in range(5)]
        details = camera.health_details()
    finally:
        frames.close()
    for image, original in zip(got, pictures, strict=True):
        assert difference(image, original) < 8
    assert details["path"] == "decode+encode"
    assert details["width"] == 320


@pytest.mark.parametrize(
    ("options", "shape", "expected"),
    [
        ({"rotate": 90}, (320, 240, 3), lambda image: np.rot90(image, k=-1)),
        ({"flip": "horizontal"}, (240, 320, 3), lambda image: image[:, ::-1]),
        (
            {"width": 160},
            (120, 160, 3),
            lambda image: cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA),
        ),
    ],
)
def test_transforms_decode_and_encode(
    clip: tuple[Path, list[bytes]],
    options: dict[str, Any],
    shape: tuple[int, ...],
    expected: Callable[[np.ndarray], np.ndarray],
) -> None:
    """
    A rotation, a mirror or a resize of an MJPEG file's frames decodes and
    encodes them: the frames come out transformed, and health says so.
    """
    path, jpegs = clip
    camera = OpenCVCamera(source=str(path), **options)
    frames = camera.frames()
    try:
        jpeg, _ = next(frames)
        details = camera.health_details()
    finally:
        frames.close()
    image = decode(jpeg)
    assert image.shape == shape
    assert difference(image, expected(decode(jpegs[0]))) < 4
    assert details["path"] == "decode+encode"


def test_fps_caps_a_file(tmp_path: Path) -> None:
    """
    C{fps} below a file's rate keeps the file's speed and sends fewer of its
    frames, untouched: 11 frames from the first second of a 50 fps file at
    C{fps=10}.
    """
    path = tmp_path / "fast.avi"
    jpegs = mjpeg_file(path, 50.0, 100)
    got = take(OpenCVCamera(source=str(path), fps=10), 11)
    indexes = [jpegs.index(jpeg) for jpeg, _ in got]
    assert indexes == sorted(indexes)
    assert indexes[-1] < 50
    assert min(b - a for a, b in itertools.pairwise(indexes)) >= 3
    assert got[-1][1] - got[0][1] == pytest.approx(indexes[-1] / 50, rel=0.1)


def test_fps_caps_a_looping_short_file(tmp_path: Path) -> None:
    """
    The cap holds across the restarts of a file shorter than its interval:
    frames keep coming, about 5 a second from a 3-frame file at C{fps=5}.
    """
    path = tmp_path / "short.avi"
    jpegs = mjpeg_file(path, 50.0, 3)
    got = take(OpenCVCamera(source=str(path), fps=5), 6)
    assert all(jpeg in jpegs for jpeg, _ in got)
    # Five intervals of 0.2 s, less up to half an interval for the first.
    assert 0.85 < got[-1][1] - got[0][1] < 1.1


def test_empty_file(tmp_path: Path) -> None:
    """
    A video file that opens but has no frames fails with the reason, rather
    than being read again and again.
    """
    path = tmp_path / "empty.avi"
    write_video(path, "MJPG", 25.0, 0)
    with pytest.raises(OSError, match=r".+") as caught:
        take(OpenCVCamera(source=str(path)), 1)
    assert str(caught.value) == f"video file {path} has no frames to read"


def test_without_loop_the_last_frame_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    With C{loop} off a file plays once, then its last frame is repeated as
    it was, and health says it has ended; closing ends that.
    """
    monkeypatch.setattr(opencv, "HOLD_INTERVAL", 0.01)
    path = tmp_path / "short.avi"
    jpegs = mjpeg_file(path, 50.0, 4)
    camera = OpenCVCamera(source=str(path), loop=False)
    frames = camera.frames()
    try:
        got = [next(frames) for _ in range(7)]
        assert camera.health_details()["ended"] is True
    finally:
        frames.close()
    assert [jpeg for jpeg, _ in got] == [*jpegs, jpegs[-1], jpegs[-1], jpegs[-1]]
    assert got[4] == got[5] == got[3]
    assert camera.health_details()["ended"] is False


def break_frames(path: Path, numbers: range) -> None:
    """
    Truncate the JPEGs of C{numbers} in an AVI file in place: their end
    marker becomes padding, as in a frame a camera cut short.
    """
    chunks = avi_chunks(path)
    data = bytearray(path.read_bytes())
    for number in numbers:
        offset, jpeg = chunks[number]
        end = offset + len(jpeg)
        data[end - 200 : end] = bytes(200)
    path.write_bytes(bytes(data))


def test_broken_frame_is_dropped(tmp_path: Path) -> None:
    """
    A frame that is not a whole JPEG is not served: the stream goes on with
    the next one, and health counts it.
    """
    path = tmp_path / "broken.avi"
    jpegs = mjpeg_file(path, 50.0, 6)
    break_frames(path, range(2, 3))
    camera = OpenCVCamera(source=str(path))
    frames = camera.frames()
    try:
        got = [next(frames)[0] for _ in range(5)]
        details = camera.health_details()
    finally:
        frames.close()
    assert got == [jpegs[0], jpegs[1], jpegs[3], jpegs[4], jpegs[5]]
    assert details["path"] == "passthrough"
    assert details["broken_frames"] == 1


def test_falls_back_to_decoding(tmp_path: Path) -> None:
    """
    Once five compressed frames in a row are not whole JPEGs, the source is
    opened again for decoded frames, which are encoded here: the stream goes
    on, and health says decode+encode.
    """
    path = tmp_path / "broken.avi"
    jpegs = mjpeg_file(path, 50.0, 10)
    break_frames(path, range(2, 2 + opencv.BROKEN_LIMIT))
    camera = OpenCVCamera(source=str(path))
    frames = camera.frames()
    try:
        got = [next(frames)[0] for _ in range(3)]
        details = camera.health_details()
    finally:
        frames.close()
    assert got[:2] == jpegs[:2]
    # The file is read again from the start, decoded this time.
    assert got[2] not in jpegs
    assert difference(decode(got[2]), decode(jpegs[0])) < 4
    assert details["path"] == "decode+encode"
    assert details["broken_frames"] == opencv.BROKEN_LIMIT


def test_short_file_of_broken_frames(tmp_path: Path) -> None:
    """
    A recording shorter than the broken-frame limit whose compressed frames
    are all broken is decoded instead, not read again and again for ever.
    """
    path = tmp_path / "broken.avi"
    jpegs = mjpeg_file(path, 50.0, 3)
    break_frames(path, range(3))
    camera = OpenCVCamera(source=str(path))
    frames = camera.frames()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(next(frames)[0]))
    reader.start()
    reader.join(TIMEOUT)
    try:
        assert got, "no frame came from the file"
        assert got[0] not in jpegs
        assert camera.health_details()["path"] == "decode+encode"
    finally:
        if not reader.is_alive():
            frames.close()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{tmp}/missing.avi", "cannot open video file {tmp}/missing.avi: no such file"),
        ("{tmp}", "cannot open video file {tmp}: it is a directory"),
        (
            "{tmp}/notes.avi",
            "cannot open video file {tmp}/notes.avi: not a video OpenCV can read",
        ),
        ("/dev/video63", "cannot open camera device /dev/video63: no such device"),
        ("63", "cannot open camera device 63 (/dev/video63): no such device"),
        (
            "http://u:pw@127.0.0.1:{port}/x",
            "cannot open stream http://u:***@127.0.0.1:{port}/x",
        ),
    ],
)
def test_open_failures(tmp_path: Path, source: str, message: str) -> None:
    """
    A source that cannot be opened raises one line saying what and, where
    it can be told, why.
    """
    (tmp_path / "notes.avi").write_text("not a video")
    port = free_port()
    camera = OpenCVCamera(source=source.format(tmp=tmp_path, port=port))
    with pytest.raises(OSError, match=r".+") as caught:
        take(camera, 1)
    assert str(caught.value) == message.format(tmp=tmp_path, port=port)
    assert camera.health_details()["path"] is None


# Real servers.


@attrs.define
class Served:
    """
    A camserve server on 127.0.0.1 serving one camera, C{cam}.
    """

    service: CameraService
    hub: CameraHub
    port: Any
    number: int
    running: bool = True

    def url(self, path: str) -> str:
        """
        The URL of C{path} on it.
        """
        return f"http://127.0.0.1:{self.number}{path}"

    async def stop(self) -> None:
        """
        Stop serving: end every stream, release the camera, stop listening.
        """
        if self.running:
            self.running = False
            await self.service.stopService()
            await self.port.stopListening()


Serve: TypeAlias = "Callable[..., Served]"


@pytest.fixture
def serve(log: LogRecorder) -> Iterator[Serve]:
    """
    Start servers (given a camera, and optionally a port) that are stopped
    after the test, which may log no error.
    """
    servers: list[Served] = []

    def start(camera: ICamera, port: int = 0) -> Served:
        service = CameraService(reactor)
        hub = service.add_camera("cam", camera)
        site = Site(camera_resource(hub, reactor))
        listening = reactor.listenTCP(port, site, interface="127.0.0.1")
        service.startService()
        number = int(listening.getHost().port)
        servers.append(Served(service, hub, listening, number))
        return servers[-1]

    yield start
    for served in servers:
        pytest_twisted.blockon(Deferred.fromCoroutine(served.stop()))
    gc.collect()  # Unhandled errors in Deferreds are logged when collected.
    errors = log.troubles(LogLevel.error)
    assert errors == [], "\n".join(errors)


class Viewer:
    """
    A raw socket watching C{/video_feed}, read by blocking calls run in a
    thread, its parts parsed by one parser throughout.
    """

    def __init__(self, served: Served) -> None:
        self.sock = socket.create_connection(("127.0.0.1", served.number), TIMEOUT)
        send_get(self.sock, "/video_feed")
        self.parser = MultipartParser()
        self.parsed: list[Part] = []

    def head(self) -> bytes:
        """
        The response's status line; what follows is parsed as parts.
        """
        response = read_head(self.sock, time.monotonic() + TIMEOUT)
        self.parsed = self.parser.feed(response.body)
        return response.status

    def parts(self, count: int, seconds: float = TIMEOUT) -> list[Part]:
        """
        The next C{count} parts (after L{head}).
        """
        deadline = time.monotonic() + seconds
        while len(self.parsed) < count:
            self.parsed += self.parser.feed(receive(self.sock, deadline))
        parts, self.parsed = self.parsed[:count], self.parsed[count:]
        return parts

    def until(self, found: Callable[[bytes], bool], seconds: float) -> None:
        """
        Read parts until one whose body is C{found}.
        """
        deadline = time.monotonic() + seconds
        while not found(self.parts(1, deadline - time.monotonic())[0].body):
            pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def viewers() -> Iterator[Callable[[Served], Viewer]]:
    """
    Viewers of servers, closed after the test.
    """
    made: list[Viewer] = []

    def watch(served: Served) -> Viewer:
        made.append(Viewer(served))
        return made[-1]

    yield watch
    for viewer in made:
        viewer.close()


def fetch(url: str) -> tuple[int, bytes]:
    """
    GET C{url} (blocking): the status and the body.
    """
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 - the test's own server
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return error.code, bytes(error.read())


async def health(served: Served) -> tuple[int, dict[str, Any]]:
    """
    The server's C{/healthz}: status and JSON.
    """
    status, body = await deferToThread(fetch, served.url("/healthz"))
    return status, json.loads(body)


@reactor_test
async def test_served_file_passes_through_at_its_rate(
    serve: Serve,
    viewers: Callable[[Served], Viewer],
    clip: tuple[Path, list[bytes]],
) -> None:
    """
    A viewer of an MJPEG file gets the file's own JPEGs, consecutive and in
    order, stamped at the file's rate; /healthz says passthrough.
    """
    path, jpegs = clip
    served = serve(OpenCVCamera(source=str(path)))
    viewer = viewers(served)
    assert await deferToThread(viewer.head) == b"HTTP/1.1 200 OK"
    parts = await deferToThread(viewer.parts, 25)
    first = jpegs.index(parts[0].body)
    assert [part.body for part in parts[:25]] == jpegs[first : first + 25]
    stamps = [float(part.headers["x-timestamp"]) for part in parts[:25]]
    assert stamps[-1] - stamps[0] == pytest.approx(24 / 20, rel=0.1)
    steps = np.diff(stamps)
    assert steps.min() > 0.03
    assert steps.max() < 0.08
    status, state = await health(served)
    assert status == 200
    assert state["details"]["path"] == "passthrough"
    assert state["details"]["source_fps"] == 20.0


@reactor_test
async def test_served_rotation(
    serve: Serve,
    viewers: Callable[[Served], Viewer],
    clip: tuple[Path, list[bytes]],
) -> None:
    """
    A rotated file is served decoded, rotated and encoded: the frames are
    portrait, and /healthz says decode+encode.
    """
    path, _ = clip
    served = serve(OpenCVCamera(source=str(path), rotate=270))
    viewer = viewers(served)
    assert await deferToThread(viewer.head) == b"HTTP/1.1 200 OK"
    parts = await deferToThread(viewer.parts, 3)
    assert {decode(part.body).shape for part in parts} == {(320, 240, 3)}
    _, state = await health(served)
    assert state["details"]["path"] == "decode+encode"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "/nonexistent/clip.avi",
            "cannot open video file /nonexistent/clip.avi: no such file",
        ),
        ("63", "cannot open camera device 63 (/dev/video63): no such device"),
    ],
)
@reactor_test
async def test_served_open_failure(serve: Serve, source: str, reason: str) -> None:
    """
    A source that cannot be opened gives viewers and snapshots a 503 with
    the reason, and /healthz reports it.
    """
    served = serve(OpenCVCamera(source=source))
    status, body = await deferToThread(fetch, served.url("/video_feed"))
    assert (status, body) == (503, f"camera cam failed: {reason}\n".encode())
    status, body = await deferToThread(fetch, served.url("/snapshot.jpg"))
    assert status == 503
    assert reason.encode() in body
    status, state = await health(served)
    assert status == 503
    assert state["state"] == "failed"
    assert state["last_error"] == reason


@reactor_test
async def test_stream_of_another_camserve_survives_its_restart(
    serve: Serve, viewers: Callable[[Served], Viewer], tmp_path: Path
) -> None:
    """
    A camserve stream read as an opencv source is relayed byte for byte.
    When that stream drops, the relaying camserve reports the failure, keeps
    its viewer connected, and reopens the stream with backoff: once the
    first server is back, the same viewer gets its new frames.
    """
    before = [make_jpeg(n, 64, 48) for n in range(3)]
    after = [make_jpeg(n, 64, 48) for n in range(10, 13)]
    for name, jpegs in (("before", before), ("after", after)):
        (tmp_path / name).mkdir()
        for number, jpeg in enumerate(jpegs):
            (tmp_path / name / f"{number}.jpg").write_bytes(jpeg)
    upstream = serve(EmulatedCamera(fps=20, source=str(tmp_path / "before")))
    relay = serve(OpenCVCamera(source=upstream.url("/video_feed")))
    viewer = viewers(relay)
    assert await deferToThread(viewer.head) == b"HTTP/1.1 200 OK"
    parts = await deferToThread(viewer.parts, 5)
    assert all(part.body in before for part in parts)
    _, state = await health(relay)
    assert state["details"]["path"] == "passthrough"

    await upstream.stop()
    await wait_until(lambda: relay.hub.state is HubState.FAILED, "the relay fails")
    _, state = await health(relay)
    assert state["last_error"] in (
        f"stream {upstream.url('/video_feed')} stopped sending frames",
        f"cannot open stream {upstream.url('/video_feed')}",
    )
    assert relay.hub.viewers == 1

    serve(EmulatedCamera(fps=20, source=str(tmp_path / "after")), upstream.number)
    await deferToThread(viewer.until, lambda body: body in after, 3 * TIMEOUT)
    await wait_until(lambda: relay.hub.state is HubState.RUNNING, "it recovers")
    assert relay.hub.viewers == 1


def test_command_line(clip: tuple[Path, list[bytes]], tmp_path: Path) -> None:
    """
    C{python -m camserve --camera opencv --source FILE} serves the file's
    own JPEGs.
    """
    path, jpegs = clip
    port = free_port()
    command = [sys.executable, "-m", "camserve", "--camera", "opencv"]
    command += ["--source", str(path), "--endpoint", f"tcp:{port}:interface=127.0.0.1"]
    log_path = tmp_path / "camserve.log"
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        parts = read_served(port, 3)
    finally:
        process.terminate()
        process.wait(TIMEOUT)
    bodies = [part.body for part in parts]
    first = jpegs.index(bodies[0])
    assert bodies == jpegs[first : first + 3], log_path.read_text()


def read_served(port: int, count: int) -> list[Part]:
    """
    Once the server on C{port} listens, C{count} parts of its stream.
    """
    deadline = time.monotonic() + 3 * TIMEOUT
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with sock:
        send_get(sock, "/video_feed")
        head = read_head(sock, time.monotonic() + TIMEOUT)
        assert head.status == b"HTTP/1.1 200 OK"
        return read_parts(sock, count, time.monotonic() + TIMEOUT, head.body)
