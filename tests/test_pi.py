"""
Tests for L{camserve.cameras.pi}, run against L{picamera_double}: a test
double of picamera 1.13's documented API, as no Raspberry Pi camera is
attached here.
"""

from __future__ import annotations

import io
import json
import sys
from typing import TYPE_CHECKING

import picamera_double
import pytest
from support import blocking_camera, reactor, reactor_test
from zope.interface.verify import verifyObject

from camserve import CameraService, ConfigError, ICamera, make_camera
from camserve.cameras._registry import describe_drivers
from camserve.cameras.pi import PiCamera
from camserve.interfaces import IHealthDetails
from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from pathlib import Path

    from camserve import Frame


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> picamera_double.Bench:
    """
    The double installed as C{picamera}, and its bench.
    """
    return picamera_double.install(monkeypatch)


def make(bench: picamera_double.Bench, **options: object) -> PiCamera:
    """
    A C{pi} camera with C{options}, whose warm-up is recorded on C{bench}
    rather than waited for.
    """
    camera = PiCamera(**options)  # type: ignore[arg-type]
    camera._sleep = lambda seconds: bench.calls.append(("sleep", seconds))
    return camera


def test_provides_interfaces(bench: picamera_double.Bench) -> None:
    """
    The C{pi} driver is an L{ICamera} with health details.
    """
    camera = PiCamera()
    assert verifyObject(ICamera, camera)
    assert verifyObject(IHealthDetails, camera)


def test_options_reach_picamera(bench: picamera_double.Bench) -> None:
    """
    The camera is opened with the asked camera number, resolution and frame
    rate, then turned and flipped, then given its warm-up, then captures
    JPEGs of the asked quality continuously from the video port into one
    in-memory stream.
    """
    bench.jpegs = [make_jpeg(1)]
    camera = make(
        bench,
        width=1280,
        height=720,
        fps=25.0,
        rotation=270,
        hflip=True,
        quality=70,
        warmup=1.5,
        camera_num=1,
    )
    frames = camera.frames()
    next(frames)
    [(stream, _, _)] = bench.capture_starts
    assert isinstance(stream, io.BytesIO)
    # Each capture may take the frame timeout, not picamera's 60 s.
    assert bench.capture_timeouts == [5.0]
    assert bench.calls == [
        (
            "PiCamera",
            {
                "camera_num": 1,
                "stereo_mode": "none",
                "stereo_decimate": False,
                "resolution": (1280, 720),
                "framerate": 25.0,
                "sensor_mode": 0,
                "led_pin": None,
                "clock_mode": "reset",
                "framerate_range": None,
            },
        ),
        ("rotation", 270),
        ("hflip", True),
        ("vflip", False),
        ("sleep", 1.5),
        (
            "capture_continuous",
            stream,
            {
                "format": "jpeg",
                "use_video_port": True,
                "resize": None,
                "splitter_port": 0,
                "burst": False,
                "bayer": False,
                "quality": 70,
            },
        ),
    ]
    frames.close()


def test_no_warmup(bench: picamera_double.Bench) -> None:
    """
    With C{warmup=0} capture starts at once.
    """
    bench.jpegs = [make_jpeg(1)]
    frames = make(bench, warmup=0).frames()
    next(frames)
    frames.close()
    assert bench.capture_starts
    assert not [call for call in bench.calls if call[0] == "sleep"]


def test_options_from_text(bench: picamera_double.Bench) -> None:
    """
    Options given as text, as on the command line, reach the driver as the
    types it declares.
    """
    camera = make_camera(
        "pi", {"rotation": "90", "hflip": "yes", "warmup": "0.5", "camera_num": "1"}
    )
    assert isinstance(camera, PiCamera)
    assert (camera.rotation, camera.hflip, camera.warmup, camera.camera_num) == (
        90,
        True,
        0.5,
        1,
    )


def test_frames_are_the_jpegs_from_one_reused_emptied_stream(
    bench: picamera_double.Bench,
) -> None:
    """
    Each frame is exactly the JPEG picamera captured, and every capture goes
    into the same stream, emptied and rewound before it: a longer JPEG
    leaves nothing behind in a shorter one.
    """
    bench.jpegs = [make_jpeg(1, 64, 48), make_jpeg(2, 32, 24), make_jpeg(3, 16, 16)]
    frames = make(bench).frames()
    got = [next(frames) for _ in bench.jpegs]
    frames.close()
    assert got == bench.jpegs
    stream = bench.capture_starts[0][0]
    assert bench.capture_starts == [(stream, 0, 0)] * 3


def test_closing_releases_the_camera(bench: picamera_double.Bench) -> None:
    """
    Closing the generator ends the continuous capture, then closes the
    camera.
    """
    bench.jpegs = [make_jpeg(1), make_jpeg(2)]
    frames = make(bench).frames()
    next(frames)
    assert ("close",) not in bench.calls
    frames.close()
    assert bench.calls[-2:] == [("capture_continuous ended",), ("close",)]
    assert bench.closed.is_set()


def test_capture_failure_releases_the_camera(bench: picamera_double.Bench) -> None:
    """
    A capture that fails raises picamera's error, after ending the capture
    and closing the camera.
    """
    bench.jpegs = [make_jpeg(1)]
    frames = make(bench).frames()
    next(frames)
    with pytest.raises(
        picamera_double.PiCameraRuntimeError,
        match=r"^Timed out waiting for capture to end$",
    ):
        next(frames)
    assert bench.calls[-2:] == [("capture_continuous ended",), ("close",)]


def test_open_failure_is_one_line(bench: picamera_double.Bench) -> None:
    """
    A camera that cannot be opened fails the run with one line giving
    picamera's reason; there is nothing to close.
    """
    bench.open_error = picamera_double.PiCameraError(
        "Camera is not enabled. Try running 'sudo raspi-config' and ensure "
        "that the camera has been enabled.\nmore detail"
    )
    frames = make(bench).frames()
    with pytest.raises(RuntimeError) as caught:
        next(frames)
    assert str(caught.value) == (
        "cannot open the Pi camera: Camera is not enabled. Try running "
        "'sudo raspi-config' and ensure that the camera has been enabled."
    )
    assert [call[0] for call in bench.calls] == ["PiCamera"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fps": 0}, "fps must be greater than 0, not 0"),
        ({"width": 8}, "width must be from 16 to 7680, not 8"),
        ({"height": 5000}, "height must be from 16 to 4320, not 5000"),
        ({"rotation": 45}, "rotation must be 0, 90, 180 or 270, not 45"),
        ({"quality": 101}, "quality must be from 1 to 100, not 101"),
        ({"warmup": -1}, "warmup must be 0 or more seconds, not -1"),
        ({"camera_num": -1}, "camera_num must be 0 or more, not -1"),
    ],
)
def test_bad_options(
    bench: picamera_double.Bench, options: dict[str, object], message: str
) -> None:
    """
    An option out of range is refused in one line saying what is allowed.
    """
    with pytest.raises(ConfigError) as caught:
        make_camera("pi", options)
    assert str(caught.value) == f"camera 'pi': {message}"


def test_missing_picamera(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """
    Where picamera is not installed, the driver is refused in one line
    saying how to install it, and listed as not usable.
    """
    monkeypatch.setitem(sys.modules, "picamera", None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        make_camera("pi", {})
    needs = (
        "needs picamera, which is not installed: "
        "pip install 'camserve[pi]' (on a Raspberry Pi)"
    )
    assert str(caught.value) == f"camera 'pi' {needs}"
    [info] = [info for info in describe_drivers() if info.name == "pi"]
    assert not info.usable
    assert info.description == needs


def test_picamera_that_does_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Where picamera is installed but cannot load (as on systems without the
    legacy camera stack), the driver is refused in one line saying why.
    """
    picamera_double.install_unloadable(
        monkeypatch,
        "picamera",
        OSError(
            "libmmal.so: cannot open shared object file: No such file or directory"
        ),
    )
    with pytest.raises(ConfigError) as caught:
        make_camera("pi", {})
    assert str(caught.value) == (
        "camera 'pi': picamera cannot be loaded (libmmal.so: cannot open shared "
        "object file: No such file or directory); it needs the legacy camera "
        "stack of 32-bit Raspberry Pi OS Bullseye or older, elsewhere use the "
        "picamera2 driver"
    )


def test_health_details(bench: picamera_double.Bench) -> None:
    """
    The health details name the library and port, and give the size, rate
    and quality, as JSON.
    """
    camera = PiCamera(width=1280, height=720, fps=25, quality=70)
    details = camera.health_details()
    assert details == {
        "library": "picamera",
        "port": "video",
        "size": [1280, 720],
        "fps": 25,
        "quality": 70,
    }
    assert json.loads(json.dumps(details)) == details


@reactor_test
async def test_frames_reach_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Served by a L{CameraService}, the driver's frames reach the camera's
    hub, its details reach the hub's health, and stopping the service
    releases the camera.
    """
    bench = picamera_double.install(monkeypatch)
    bench.jpegs = [make_jpeg(1), make_jpeg(2)]
    bench.loop = True
    bench.frame_period = 0.02
    camera = blocking_camera("pi", {"warmup": 0})
    cameras = CameraService(reactor)
    hub = cameras.add_camera("pi", camera, driver="pi")
    cameras.startService()
    try:
        frame: Frame = await hub.next_frame().addTimeout(5, reactor)
        details = hub.health()["details"]
    finally:
        await cameras.stopService()
    assert frame.jpeg in bench.jpegs
    assert details["library"] == "picamera"
    assert bench.calls[-2:] == [("capture_continuous ended",), ("close",)]
