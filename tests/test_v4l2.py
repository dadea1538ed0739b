"""
Tests for L{camserve.cameras.v4l2}, run against L{v4l2_double}, a test
double of linuxpy's V4L2 API: format negotiation, the frame loop, errors and
releasing the device. What only a real camera can show is listed in the
v4l2 section of docs/drivers.md.
"""

from __future__ import annotations

import errno
import inspect
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
import v4l2_double
from support import reactor, reactor_test
from v4l2_double import BufferFlag, BufferType, FakeCamera, PixelFormat
from zope.interface.verify import verifyObject

from camserve import CameraService, ConfigError, HubState, ICamera, make_camera
from camserve.cameras import _linuxpy
from camserve.cameras._registry import missing_libraries
from camserve.cameras.v4l2 import V4L2Camera, V4L2CameraError
from camserve.interfaces import IHealthDetails
from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

    from twisted.internet.defer import Deferred

    from camserve import Frame

Cameras = dict[str, FakeCamera]

RELEASED = ["stream_off", "disarm", "close"]
"""
The calls that release a streaming device, in the order they must come.
"""


@pytest.fixture
def cameras(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cameras]:
    """
    The test double installed as linuxpy, with no camera plugged in.
    """
    plugged = v4l2_double.install(monkeypatch)
    yield plugged
    for camera in plugged.values():
        camera.discard()


def plug(cameras: Cameras, path: str = "/dev/video0", **options: Any) -> FakeCamera:
    """
    Plug a fake camera in at C{path}.
    """
    camera = FakeCamera(**options)
    cameras[path] = camera
    return camera


def take(
    frames: Generator[tuple[bytes, float]], count: int
) -> list[tuple[bytes, float]]:
    """
    The next C{count} frames.
    """
    return [next(frames) for _ in range(count)]


def jpegs_of(driver: V4L2Camera, count: int) -> list[bytes]:
    """
    The first C{count} JPEGs of a run of C{driver}, which is then closed.
    """
    with closing(driver.frames()) as frames:
        return [jpeg for jpeg, _ in take(frames, count)]


BARS = [
    (255, 255, 255),
    (255, 255, 0),
    (0, 255, 255),
    (0, 255, 0),
    (255, 0, 255),
    (255, 0, 0),
    (0, 0, 255),
    (0, 0, 0),
]
"""
Colour bars, as RGB.
"""


def yuyv_bars(width: int, height: int, padding: int = 0) -> bytes:
    """
    L{BARS} side by side as a YUYV buffer: BT.601 limited range, as V4L2
    defines it, each row followed by C{padding} bytes of 0xFF.
    """
    bar = width // len(BARS)
    row = bytearray()
    for x in range(0, width, 2):
        red, green, blue = (value / 255 for value in BARS[x // bar])
        luma = round(16 + 65.481 * red + 128.553 * green + 24.966 * blue)
        cb = round(128 - 37.797 * red - 74.203 * green + 112.0 * blue)
        cr = round(128 + 112.0 * red - 93.786 * green - 18.214 * blue)
        row += bytes((luma, cb, luma, cr))
    row += b"\xff" * padding
    return bytes(row) * height


def bar_colours(jpeg: bytes, width: int, height: int) -> list[tuple[int, ...]]:
    """
    The mean RGB colour inside each bar of a decoded image of L{BARS}, away
    from the edges where JPEG blurs one bar into the next.
    """
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (height, width, 3)
    bar = width // len(BARS)
    colours: list[tuple[int, ...]] = []
    for index in range(len(BARS)):
        inside = image[:, index * bar + 4 : (index + 1) * bar - 4]
        blue, green, red = inside.reshape(-1, 3).mean(axis=0)
        colours.append((round(red), round(green), round(blue)))
    return colours


def test_provides_interfaces() -> None:
    """
    The v4l2 camera is an L{ICamera} with health details.
    """
    camera = V4L2Camera()
    assert verifyObject(ICamera, camera)
    assert verifyObject(IHealthDetails, camera)


def test_source_is_a_path_or_a_number() -> None:
    """
    A number names C{/dev/videoN}; a path is taken as it is.
    """
    assert V4L2Camera().device == "/dev/video0"
    assert V4L2Camera(source="2").device == "/dev/video2"
    by_id = "/dev/v4l/by-id/usb-Webcam-video-index0"
    assert V4L2Camera(source=by_id).device == by_id


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"source": "video0"},
            "source must be a device path like /dev/video0 or a number, not 'video0'",
        ),
        ({"width": 8}, "width must be from 16 to 7680, not 8"),
        ({"height": 5000}, "height must be from 16 to 4320, not 5000"),
        ({"fps": 0}, "fps must be greater than 0, not 0"),
        ({"quality": 101}, "quality must be from 1 to 100, not 101"),
        ({"format": "h264"}, "format must be auto, mjpeg or yuyv, not 'h264'"),
        ({"frame_timeout": 0}, "frame_timeout must be greater than 0, not 0"),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    """
    Out-of-range options are refused with what is allowed.
    """
    with pytest.raises(ValueError, match=r".+") as caught:
        V4L2Camera(**options)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_health_before_starting() -> None:
    """
    Before the camera first starts, health names the device and nothing
    it has accepted.
    """
    assert V4L2Camera(source="1").health_details() == {
        "device": "/dev/video1",
        "format": None,
        "path": None,
        "width": None,
        "height": None,
        "fps": None,
        "corrupt_frames": 0,
    }


def test_mjpeg_is_preferred_and_passed_through(cameras: Cameras) -> None:
    """
    Offered both, the camera asks for MJPEG at the configured size and rate,
    and yields the device's JPEGs exactly as delivered.
    """
    camera = plug(cameras, formats=(PixelFormat.YUYV, PixelFormat.MJPEG))
    jpegs = [make_jpeg(1), make_jpeg(2)]
    for jpeg in jpegs:
        camera.deliver(jpeg)
    driver = V4L2Camera(width=1280, height=720, fps=15)
    frames = driver.frames()
    try:
        got = [jpeg for jpeg, _ in take(frames, 2)]
        assert camera.calls == [
            "open",
            "set_format MJPEG 1280x720",
            "set_fps 15",
            "arm",
            "stream_on",
        ]
    finally:
        frames.close()
    assert got == jpegs
    assert driver.health_details() == {
        "device": "/dev/video0",
        "format": "MJPG",
        "path": "passthrough",
        "width": 1280,
        "height": 720,
        "fps": 15.0,
        "corrupt_frames": 0,
    }


def test_jpeg_fourcc_is_passed_through(cameras: Cameras) -> None:
    """
    A device that calls its MJPEG C{JPEG} is passed through too.
    """
    camera = plug(cameras, formats=(PixelFormat.YUYV, PixelFormat.JPEG))
    camera.deliver(make_jpeg(3))
    driver = V4L2Camera()
    [jpeg] = jpegs_of(driver, 1)
    assert jpeg == make_jpeg(3)
    assert driver.health_details()["format"] == "JPEG"
    assert driver.health_details()["path"] == "passthrough"


@pytest.mark.parametrize("padding", [0, 16])
def test_yuyv_is_the_fallback_and_encoded(cameras: Cameras, padding: int) -> None:
    """
    Without MJPEG the camera takes YUYV and encodes it: the JPEG shows the
    colours the YUYV buffer holds, whatever padding ends each row.
    """
    width, height = 128, 32
    camera = plug(
        cameras,
        formats=(PixelFormat.GREY, PixelFormat.YUYV),
        sizes=((width, height),),
        padding=padding,
    )
    camera.deliver(yuyv_bars(width, height, padding))
    driver = V4L2Camera(width=width, height=height, quality=95)
    [jpeg] = jpegs_of(driver, 1)
    assert camera.calls[1] == f"set_format YUYV {width}x{height}"
    for got, expected in zip(bar_colours(jpeg, width, height), BARS, strict=True):
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 8, (
            got,
            expected,
        )
    details = driver.health_details()
    assert (details["format"], details["path"]) == ("YUYV", "yuyv+encode")


def test_format_option_forces_yuyv(cameras: Cameras) -> None:
    """
    C{format=yuyv} takes YUYV even where MJPEG is offered.
    """
    camera = plug(cameras, sizes=((64, 16),))
    camera.deliver(yuyv_bars(64, 16))
    driver = V4L2Camera(format="YUYV")
    [jpeg] = jpegs_of(driver, 1)
    assert camera.calls[1] == "set_format YUYV 640x480"
    assert jpeg.startswith(b"\xff\xd8")
    assert driver.health_details()["path"] == "yuyv+encode"


@pytest.mark.parametrize(
    ("offered", "option", "message"),
    [
        (
            (PixelFormat.GREY, PixelFormat.H264),
            "auto",
            "/dev/video0 offers neither MJPEG nor YUYV, only GREY, H264",
        ),
        (
            (PixelFormat.YUYV,),
            "mjpeg",
            "/dev/video0 offers no MJPEG, only YUYV",
        ),
        (
            (PixelFormat.MJPEG,),
            "yuyv",
            "/dev/video0 offers no YUYV, only MJPG",
        ),
    ],
)
def test_no_usable_format(
    cameras: Cameras, offered: tuple[PixelFormat, ...], option: str, message: str
) -> None:
    """
    A device without a format the camera can use fails with the formats it
    does offer, and is closed.
    """
    camera = plug(cameras, formats=offered)
    with pytest.raises(V4L2CameraError) as caught:
        next(V4L2Camera(format=option).frames())
    assert str(caught.value) == message
    assert camera.calls == ["open", "close"]


def test_not_a_capture_node(cameras: Cameras) -> None:
    """
    A node that captures no video (a UVC camera's metadata node) is named
    as such.
    """
    camera = plug(cameras, "/dev/video1", buffer_type=BufferType.META_CAPTURE)
    with pytest.raises(V4L2CameraError) as caught:
        next(V4L2Camera(source="1").frames())
    assert str(caught.value) == (
        "/dev/video1 is not a video capture device (it offers no capture formats)"
    )
    assert camera.calls == ["open", "close"]


def test_format_the_device_will_not_set(cameras: Cameras) -> None:
    """
    A device that sets another format than the one asked for is refused
    rather than misread.
    """
    camera = plug(
        cameras,
        formats=(PixelFormat.YUYV, PixelFormat.MJPEG),
        unsettable=(PixelFormat.MJPEG,),
    )
    with pytest.raises(V4L2CameraError) as caught:
        next(V4L2Camera().frames())
    assert str(caught.value) == "/dev/video0 would not set MJPG; it set YUYV"
    assert camera.calls[-1] == "close"


def test_linuxpy_refuses_to_arm(cameras: Cameras) -> None:
    """
    linuxpy's own error (not an C{OSError}) while starting is reported in
    one line naming the device, and the device is released.
    """
    camera = plug(cameras, capture_capability=False)
    with pytest.raises(V4L2CameraError) as caught:
        next(V4L2Camera().frames())
    assert str(caught.value) == (
        "cannot start /dev/video0: device doesn't have VIDEO_CAPTURE capability"
    )
    assert camera.calls[-1] == "close"


def test_only_damaged_buffers(
    cameras: Cameras, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A camera that keeps sending buffers, none of them whole, fails once no
    whole frame has come for the frame timeout, releasing the device.
    """
    camera = plug(cameras)
    for _ in range(5):
        camera.deliver(b"")
    frames = V4L2Camera(frame_timeout=2).frames()
    seconds = iter(range(1000))
    with monkeypatch.context() as patched:
        # Each reading of the clock is a second later.
        patched.setattr(time, "monotonic", lambda: float(next(seconds)))
        with pytest.raises(V4L2CameraError) as caught:
            next(frames)
    assert str(caught.value) == "/dev/video0 sent no whole frame for 2 s"
    assert camera.calls[-1] == "close"


def test_size_and_rate_are_what_the_device_accepts(cameras: Cameras) -> None:
    """
    The device's nearest size and rate are used, and health reports them
    rather than those asked for; YUYV frames are encoded at that size.
    """
    camera = plug(
        cameras,
        formats=(PixelFormat.YUYV,),
        sizes=((64, 16), (128, 32)),
        rates=(30.0, 20.0, 10.0),
    )
    camera.deliver(yuyv_bars(128, 32))
    driver = V4L2Camera(width=120, height=40, fps=12)
    [jpeg] = jpegs_of(driver, 1)
    assert camera.calls[1:3] == ["set_format YUYV 120x40", "set_fps 12"]
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (32, 128, 3)
    details = driver.health_details()
    assert (details["width"], details["height"], details["fps"]) == (128, 32, 10.0)


def test_device_without_rate_control(cameras: Cameras) -> None:
    """
    A device without frame rate control streams at its own rate, reported
    as unknown.
    """
    camera = plug(cameras, rates=None)
    camera.deliver(make_jpeg(1))
    driver = V4L2Camera()
    [jpeg] = jpegs_of(driver, 1)
    assert jpeg == make_jpeg(1)
    assert driver.health_details()["fps"] is None


def test_damaged_mjpeg_buffers(cameras: Cameras) -> None:
    """
    Padding after a JPEG's end is trimmed; empty buffers, buffers that do
    not start a JPEG, JPEGs cut short and buffers the driver flags as
    damaged are skipped and counted.
    """
    whole = make_jpeg(1)
    cut = whole[: len(whole) // 2]
    assert b"\xff\xd9" not in cut
    camera = plug(cameras)
    camera.deliver(b"")
    camera.deliver(b"\x00" * 64 + whole)
    camera.deliver(cut)
    camera.deliver(whole, flags=BufferFlag.ERROR | BufferFlag.TIMESTAMP_MONOTONIC)
    camera.deliver(make_jpeg(2) + b"\x00" * 100 + b"\xa5\x5a")
    camera.deliver(whole)
    driver = V4L2Camera()
    got = jpegs_of(driver, 2)
    assert got == [make_jpeg(2), whole]
    assert driver.health_details()["corrupt_frames"] == 4


def test_short_yuyv_buffer_is_skipped(cameras: Cameras) -> None:
    """
    A YUYV buffer shorter than a frame is skipped and counted, not encoded.
    """
    camera = plug(cameras, formats=(PixelFormat.YUYV,), sizes=((64, 16),))
    whole = yuyv_bars(64, 16)
    camera.deliver(whole[:-2])
    camera.deliver(whole)
    driver = V4L2Camera()
    frames = driver.frames()
    try:
        take(frames, 1)
        assert driver.health_details()["corrupt_frames"] == 1
    finally:
        frames.close()


def test_capture_time_from_the_buffer(cameras: Cameras) -> None:
    """
    A buffer timestamp on the monotonic clock gives the capture time on the
    wall clock; a timestamp from an unknown clock, or an implausible one,
    gives the time the frame was read.
    """
    camera = plug(cameras)
    before = time.time()
    camera.deliver(make_jpeg(1), timestamp=time.monotonic() - 0.5)
    camera.deliver(make_jpeg(2), flags=BufferFlag.TIMESTAMP_UNKNOWN, timestamp=1.0)
    camera.deliver(make_jpeg(3), timestamp=time.monotonic() - 3600)
    frames = V4L2Camera().frames()
    try:
        stamps = [captured for _, captured in take(frames, 3)]
        read = time.time()
    finally:
        frames.close()
    assert before - 0.5 <= stamps[0] <= read - 0.5
    assert before <= stamps[1] <= read
    assert before <= stamps[2] <= read


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "cannot open /dev/video3: no such device"),
        (
            {"open_error": errno.EACCES},
            "cannot open /dev/video3: permission denied (is the user in the video group?)",
        ),
        ({"open_error": errno.EIO}, "cannot open /dev/video3: input/output error"),
    ],
)
def test_device_that_cannot_be_opened(
    cameras: Cameras, options: dict[str, Any], message: str
) -> None:
    """
    A device that is missing or cannot be opened fails in one line saying
    why.
    """
    if options:
        plug(cameras, "/dev/video3", **options)
    with pytest.raises(V4L2CameraError) as caught:
        next(V4L2Camera(source="3").frames())
    assert str(caught.value) == message


def test_not_a_v4l2_device_with_real_linuxpy() -> None:
    """
    Where linuxpy is installed: a file that is no V4L2 device is named as
    such, and closed, through the real binding.
    """
    pytest.importorskip(_linuxpy.MODULE)
    descriptors = Path("/proc/self/fd")
    open_files = sorted(descriptors.iterdir())
    with pytest.raises(V4L2CameraError) as caught:
        next(V4L2Camera(source="/dev/null").frames())
    assert str(caught.value) == "cannot start /dev/null: not a V4L2 device"
    assert sorted(descriptors.iterdir()) == open_files


def test_busy_device(cameras: Cameras) -> None:
    """
    A device another program streams from fails as busy, and is closed.
    """
    camera = plug(cameras, busy=True)
    with pytest.raises(V4L2CameraError) as caught:
        next(V4L2Camera().frames())
    assert str(caught.value) == (
        "cannot start /dev/video0: device busy (is another program using it?)"
    )
    assert camera.calls == ["open", "set_format MJPEG 640x480", "close"]


def test_closing_releases_the_device(cameras: Cameras) -> None:
    """
    Closing the generator stops streaming, frees the buffers and closes the
    device, in that order.
    """
    camera = plug(cameras)
    camera.deliver(make_jpeg(1))
    frames = V4L2Camera().frames()
    take(frames, 1)
    assert camera.streaming
    frames.close()
    assert camera.calls[-4:] == ["stream_on", *RELEASED]
    assert not camera.streaming


def test_unplugged_mid_stream(cameras: Cameras) -> None:
    """
    A device that fails while streaming (here, unplugged, so that releasing
    it fails too) is closed, and then the failure is raised.
    """
    camera = plug(cameras)
    camera.deliver(make_jpeg(1))
    camera.fail(errno.ENODEV)
    frames = V4L2Camera().frames()
    take(frames, 1)
    with pytest.raises(V4L2CameraError) as caught:
        next(frames)
    assert str(caught.value) == "lost /dev/video0: no such device"
    assert camera.calls[-3:] == RELEASED


def test_device_that_stops_sending(cameras: Cameras) -> None:
    """
    A device that sends no frame for the frame timeout fails, released, so
    that camserve reopens it.
    """
    camera = plug(cameras)
    camera.deliver(make_jpeg(1))
    frames = V4L2Camera(frame_timeout=0.2).frames()
    take(frames, 1)
    started = time.monotonic()
    with pytest.raises(V4L2CameraError) as caught:
        next(frames)
    assert 0.15 < time.monotonic() - started < 2
    assert str(caught.value) == "/dev/video0 sent no frame for 0.2 s"
    assert camera.calls[-3:] == RELEASED


def test_frame_timeout_allows_three_frame_intervals(cameras: Cameras) -> None:
    """
    At a slow rate the camera waits three frame intervals for a frame, even
    if the frame timeout is shorter.
    """
    camera = plug(cameras, rates=(2.0,))
    camera.deliver(make_jpeg(1))
    frames = V4L2Camera(fps=2, frame_timeout=0.1).frames()
    take(frames, 1)
    # After the frame timeout, within three intervals (1.5 s).
    late = threading.Timer(0.3, camera.deliver, (make_jpeg(2),))
    late.start()
    try:
        [(jpeg, _)] = take(frames, 1)
    finally:
        late.join()
        frames.close()
    assert jpeg == make_jpeg(2)


def test_made_by_the_registry_from_strings(cameras: Cameras) -> None:
    """
    The registry makes the camera from text options, converted to their
    types, and refuses bad values in one line.
    """
    camera = make_camera(
        "v4l2",
        {
            "source": "1",
            "width": "320",
            "height": "240",
            "fps": "15",
            "format": "YUYV",
            "frame_timeout": "2.5",
        },
    )
    assert isinstance(camera, V4L2Camera)
    assert (camera.device, camera.width, camera.height) == ("/dev/video1", 320, 240)
    assert (camera.fps, camera.format, camera.frame_timeout) == (15.0, "yuyv", 2.5)
    with pytest.raises(ConfigError) as caught:
        make_camera("v4l2", {"format": "h264"})
    assert str(caught.value) == (
        "camera 'v4l2': format must be auto, mjpeg or yuyv, not 'h264'"
    )


def test_without_linuxpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Where linuxpy is not installed the driver is refused, saying how to
    install it.
    """
    monkeypatch.setitem(sys.modules, "linuxpy", None)
    assert missing_libraries(V4L2Camera) == (
        "linuxpy, which is not installed: pip install 'camserve[v4l2]'"
    )
    with pytest.raises(ConfigError) as caught:
        make_camera("v4l2", {})
    assert str(caught.value) == (
        "camera 'v4l2' needs linuxpy, which is not installed: pip install 'camserve[v4l2]'"
    )


@reactor_test
async def test_frames_reach_the_hub(cameras: Cameras) -> None:
    """
    Served by a L{CameraService}, the camera's frames reach its hub from a
    capture thread, and stopping the service releases the device.
    """
    camera = plug(cameras)
    camera.deliver(make_jpeg(1))
    service = CameraService(reactor)
    hub = service.add_camera("desk", V4L2Camera(), driver="v4l2")
    service.startService()
    try:
        frame: Frame = await hub.next_frame().addTimeout(5, reactor)
        assert frame.jpeg == make_jpeg(1)
        assert hub.health()["details"]["path"] == "passthrough"
    finally:
        stopped: Deferred[None] = service.stopService()
        # The capture thread waits for a frame before it sees the stop.
        camera.deliver(make_jpeg(2))
        await stopped
    assert hub.state is HubState.IDLE
    assert camera.calls[-3:] == RELEASED


def _protocol_members(protocol: type) -> list[str]:
    """
    The members a protocol of L{camserve.cameras._linuxpy} declares.
    """
    return [
        name
        for name in vars(protocol)
        if not name.startswith("_") or name == "__iter__"
    ]


def test_the_double_follows_linuxpy() -> None:
    """
    Where linuxpy is installed, the double has the names, argument names,
    fields and enumeration values of linuxpy's API that the driver uses.
    """
    real = pytest.importorskip(_linuxpy.MODULE)
    # mypy checks this assignment: the double implements the protocols.
    double: _linuxpy.VideoModule = v4l2_double
    for enumeration, protocol in (
        ("PixelFormat", _linuxpy.PixelFormats),
        ("BufferType", _linuxpy.BufferTypes),
        ("BufferFlag", _linuxpy.BufferFlags),
    ):
        for name in _protocol_members(protocol):
            assert getattr(getattr(double, enumeration), name) == getattr(
                getattr(real, enumeration), name
            ), (enumeration, name)
        for member in getattr(v4l2_double, enumeration):
            assert member == getattr(real, enumeration)[member.name], member
    for record in ("ImageFormat", "Format"):
        assert getattr(v4l2_double, record)._fields == getattr(real, record)._fields
    real_device = real.Device("/dev/video-none")
    real_capture = real.VideoCapture(real_device)
    classes: list[tuple[str, type, object, type]] = [
        ("Device", _linuxpy.Device, real_device, v4l2_double.Device),
        ("VideoCapture", _linuxpy.VideoCapture, real_capture, v4l2_double.VideoCapture),
    ]
    for name, declared, real_object, double_class in classes:
        real_class = type(real_object)
        assert list(inspect.signature(real_class).parameters) == list(
            inspect.signature(double_class).parameters
        ), name
        for member in _protocol_members(declared):
            assert hasattr(real_object, member), (name, member)
            real_member = inspect.getattr_static(real_class, member, None)
            if callable(real_member):
                assert list(inspect.signature(real_member).parameters) == list(
                    inspect.signature(getattr(double_class, member)).parameters
                ), (name, member)
    assert isinstance(inspect.getattr_static(real.InfoEx, "formats"), property)
    for member in _protocol_members(_linuxpy.Frame):
        assert hasattr(real.Frame, member), member
