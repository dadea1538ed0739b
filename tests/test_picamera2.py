"""
Tests for L{camserve.cameras.picamera2}, run against L{picamera2_double}: a
test double of picamera2 0.3.38's documented API and libcamera's
C{Transform}, as no Raspberry Pi camera is attached here.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TYPE_CHECKING

import picamera2_double
import pytest
from picamera_double import install_unloadable
from support import blocking_camera, reactor, reactor_test
from zope.interface.verify import verifyObject

from camserve import CameraService, ConfigError, ICamera, make_camera
from camserve.cameras._registry import describe_drivers
from camserve.cameras.picamera2 import Picamera2Camera, _NewestFrame
from camserve.interfaces import IHealthDetails
from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from pathlib import Path

    from support import LogRecorder

    from camserve import Frame


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> picamera2_double.Bench:
    """
    The double installed as C{picamera2} and C{libcamera}, and its bench.
    """
    return picamera2_double.install(monkeypatch)


def test_provides_interfaces(bench: picamera2_double.Bench) -> None:
    """
    The C{picamera2} driver is an L{ICamera} with health details.
    """
    camera = Picamera2Camera()
    assert verifyObject(ICamera, camera)
    assert verifyObject(IHealthDetails, camera)


def test_options_reach_picamera2(bench: picamera2_double.Bench) -> None:
    """
    The camera is opened by number, configured for video of the asked size
    with the C{FrameRate} control, and records with an C{MJPEGEncoder} into
    a C{FileOutput} at the quality level C{quality} falls in.
    """
    bench.cameras = 2
    bench.frames_at_start = [make_jpeg(1)]
    camera = Picamera2Camera(width=1280, height=720, fps=25.0, quality=70, camera_num=1)
    frames = camera.frames()
    next(frames)
    frames.close()
    opened, created, configured, started, *_ = bench.calls
    assert opened == (
        "Picamera2",
        {"camera_num": 1, "verbose_console": None, "tuning": None, "allocator": None},
    )
    name, arguments = created
    assert name == "create_video_configuration"
    assert isinstance(arguments, dict)
    transform = arguments.pop("transform")
    assert isinstance(transform, picamera2_double.Transform)
    assert (transform.hflip, transform.vflip, transform.transpose) == (
        False,
        False,
        False,
    )
    assert arguments == {
        "main": {"size": (1280, 720)},
        "lores": None,
        "raw": None,
        "colour_space": None,
        "buffer_count": 6,
        "controls": {"FrameRate": 25.0},
        "display": "main",
        "encode": "main",
        "queue": True,
        "sensor": None,
        "use_case": "video",
    }
    name, config = configured
    assert name == "configure"
    assert isinstance(config, dict)
    assert config["main"]["size"] == (1280, 720)
    assert config["controls"]["FrameRate"] == 25.0
    name, recording = started
    assert name == "start_recording"
    assert isinstance(recording, dict)
    encoder, output = recording.pop("encoder"), recording.pop("output")
    assert type(encoder) is picamera2_double.MJPEGEncoder
    assert type(output) is picamera2_double.FileOutput
    assert recording == {
        "pts": None,
        "config": None,
        "quality": picamera2_double.Quality.HIGH,
        "name": None,
    }


@pytest.mark.parametrize(
    ("rotation", "hflip", "vflip", "flips"),
    [
        (0, False, False, (False, False)),
        (0, True, False, (True, False)),
        (0, False, True, (False, True)),
        (180, False, False, (True, True)),
        (180, True, False, (False, True)),
        (180, True, True, (False, False)),
    ],
)
def test_rotation_and_flips_make_the_transform(
    bench: picamera2_double.Bench,
    rotation: int,
    hflip: bool,
    vflip: bool,
    flips: tuple[bool, bool],
) -> None:
    """
    Rotation and flips reach libcamera as one C{Transform} of flips: 180
    degrees is both, and a flip asked as well undoes one of them.
    """
    bench.frames_at_start = [make_jpeg(1)]
    camera = Picamera2Camera(rotation=rotation, hflip=hflip, vflip=vflip)
    frames = camera.frames()
    next(frames)
    frames.close()
    [transform] = [
        call[1]["transform"]
        for call in bench.calls
        if call[0] == "create_video_configuration" and isinstance(call[1], dict)
    ]
    assert (transform.hflip, transform.vflip, transform.transpose) == (*flips, False)


@pytest.mark.parametrize(
    ("quality", "level"),
    [
        (1, "VERY_LOW"),
        (20, "VERY_LOW"),
        (21, "LOW"),
        (60, "MEDIUM"),
        (61, "HIGH"),
        (80, "HIGH"),
        (81, "VERY_HIGH"),
        (100, "VERY_HIGH"),
    ],
)
def test_quality_levels(
    bench: picamera2_double.Bench, quality: int, level: str
) -> None:
    """
    C{quality} 1 to 100 is spread evenly over picamera2's five levels, and
    the encoder is started at that level.
    """
    bench.frames_at_start = [make_jpeg(1)]
    camera = Picamera2Camera(quality=quality)
    frames = camera.frames()
    next(frames)
    assert bench.camera is not None
    assert bench.camera.encoder is not None
    assert bench.camera.encoder.quality is picamera2_double.Quality[level]
    frames.close()
    assert camera.health_details()["quality"] == level


def test_newest_frame_wins(bench: picamera2_double.Bench) -> None:
    """
    Of the frames the encoder made since the last was taken, only the
    newest is yielded, exactly as encoded and with the time it was written;
    the older ones are dropped, not queued.
    """
    bench.frames_at_start = [make_jpeg(1), make_jpeg(2), make_jpeg(3)]
    camera = Picamera2Camera(frame_timeout=0.2)
    frames = camera.frames()
    before = time.time()
    jpeg, captured_at = next(frames)
    after = time.time()
    assert jpeg == make_jpeg(3)
    assert before <= captured_at <= after
    with pytest.raises(TimeoutError, match=r"^the camera sent no frame for 0.2 s$"):
        next(frames)


class _ObservedCondition(threading.Condition):
    """
    A condition variable that says when a thread has begun to wait on it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_a_waiting_capture_thread_is_woken() -> None:
    """
    A frame written from the encoder's thread while the capture thread
    waits for one wakes it at once with that frame.
    """
    newest = _NewestFrame()
    newest._condition = condition = _ObservedCondition()
    taken: list[tuple[bytes, float]] = []
    capture = threading.Thread(
        target=lambda: taken.append(newest.take(timeout=60)), daemon=True
    )
    capture.start()
    try:
        assert condition.waiting.wait(5)
        assert newest.write(make_jpeg(7)) == len(make_jpeg(7))
    finally:
        capture.join(5)
    assert not capture.is_alive()
    [(jpeg, _)] = taken
    assert jpeg == make_jpeg(7)


@pytest.mark.parametrize(
    ("fps", "frame_timeout", "waited"),
    [(30.0, 0.1, "0.1"), (20.0, 0.05, "0.15")],
)
def test_silent_camera_fails_and_is_released(
    bench: picamera2_double.Bench, fps: float, frame_timeout: float, waited: str
) -> None:
    """
    A camera that sends no frame for C{frame_timeout}, or three frame
    intervals if longer, fails the run in one line, after recording is
    stopped and the camera closed.
    """
    camera = Picamera2Camera(fps=fps, frame_timeout=frame_timeout)
    frames = camera.frames()
    with pytest.raises(TimeoutError) as caught:
        next(frames)
    assert str(caught.value) == f"the camera sent no frame for {waited} s"
    assert bench.calls[-2:] == [("stop_recording",), ("close",)]


def test_closing_releases_the_camera(bench: picamera2_double.Bench) -> None:
    """
    Closing the generator stops recording (the camera, then the encoder and
    its output), then closes the camera.
    """
    bench.frames_at_start = [make_jpeg(1)]
    frames = Picamera2Camera().frames()
    next(frames)
    camera = bench.camera
    assert camera is not None
    encoder = camera.encoder
    assert encoder is not None
    assert isinstance(encoder.output, picamera2_double.FileOutput)
    assert camera.started
    assert encoder.running
    assert encoder.output.recording
    frames.close()
    assert bench.calls[-2:] == [("stop_recording",), ("close",)]
    assert not camera.is_open
    assert not camera.started
    assert not encoder.running
    assert not encoder.output.recording
    assert not bench.deliver(make_jpeg(2))


def test_open_failure_is_one_line(bench: picamera2_double.Bench) -> None:
    """
    A camera that cannot be opened fails the run with one line giving the
    specific reason picamera2 chained its general one to (0.3.38 raises
    C{RuntimeError("Camera __init__ sequence did not complete.") from e});
    there is nothing to close.
    """
    error = RuntimeError("Camera __init__ sequence did not complete.")
    error.__cause__ = RuntimeError("Failed to acquire camera: Device or resource busy")
    bench.open_error = error
    frames = Picamera2Camera().frames()
    with pytest.raises(RuntimeError) as caught:
        next(frames)
    assert str(caught.value) == (
        "cannot open the camera: Failed to acquire camera: Device or resource busy"
    )
    assert [call[0] for call in bench.calls] == ["Picamera2"]


def test_no_camera(bench: picamera2_double.Bench) -> None:
    """
    With no camera attached, the run fails with picamera2's one line.
    """
    bench.cameras = 0
    frames = Picamera2Camera().frames()
    with pytest.raises(RuntimeError) as caught:
        next(frames)
    assert str(caught.value) == (
        "cannot open the camera: No camera number 0 found - use "
        '"rpicam-hello --list-cameras" to check connected cameras'
    )


def test_start_failure_releases_the_camera(bench: picamera2_double.Bench) -> None:
    """
    A camera that opens but cannot be configured fails the run in one line,
    after recording is stopped and the camera closed.
    """
    bench.configure_error = RuntimeError("Configuration failed: {...}")
    frames = Picamera2Camera().frames()
    with pytest.raises(RuntimeError) as caught:
        next(frames)
    assert str(caught.value) == "cannot start the camera: Configuration failed: {...}"
    assert [call[0] for call in bench.calls] == [
        "Picamera2",
        "create_video_configuration",
        "configure",
        "stop_recording",
        "close",
    ]


def test_failing_to_stop_keeps_the_first_error(
    bench: picamera2_double.Bench, log: LogRecorder
) -> None:
    """
    When stopping the recording fails too, the camera is still closed, the
    run reports why it failed in the first place, and the failure to stop
    is a warning.
    """
    bench.configure_error = RuntimeError("Configuration failed: {...}")
    bench.stop_error = RuntimeError("Encoder already stopped")
    frames = Picamera2Camera().frames()
    with pytest.raises(RuntimeError) as caught:
        next(frames)
    assert str(caught.value) == "cannot start the camera: Configuration failed: {...}"
    assert [call[0] for call in bench.calls][-2:] == ["stop_recording", "close"]
    assert log.formatted() == [
        "picamera2: stopping the recording failed: Encoder already stopped"
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fps": 0}, "fps must be greater than 0, not 0"),
        ({"width": 8}, "width must be from 16 to 7680, not 8"),
        ({"height": 5000}, "height must be from 16 to 4320, not 5000"),
        (
            {"rotation": 90},
            (
                "rotation must be 0 or 180, not 90: libcamera on the Raspberry Pi "
                "can flip the image but not turn it a quarter turn"
            ),
        ),
        ({"quality": 0}, "quality must be from 1 to 100, not 0"),
        ({"camera_num": -1}, "camera_num must be 0 or more, not -1"),
        ({"frame_timeout": 0}, "frame_timeout must be greater than 0, not 0"),
    ],
)
def test_bad_options(
    bench: picamera2_double.Bench, options: dict[str, object], message: str
) -> None:
    """
    An option out of range is refused in one line saying what is allowed.
    """
    with pytest.raises(ConfigError) as caught:
        make_camera("picamera2", options)
    assert str(caught.value) == f"camera 'picamera2': {message}"


@pytest.mark.parametrize(
    ("absent", "needs"),
    [
        (
            "picamera2",
            (
                "needs picamera2, which is not installed: sudo apt install "
                "python3-picamera2, or pip install 'camserve[picamera2]'"
            ),
        ),
        (
            "libcamera",
            (
                "needs libcamera, which is not installed: sudo apt install "
                "python3-libcamera (pip cannot install it); in a venv, make the "
                "venv with --system-site-packages"
            ),
        ),
    ],
)
def test_missing_library(
    bench: picamera2_double.Bench,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    absent: str,
    needs: str,
) -> None:
    """
    Where picamera2 or libcamera is not installed, the driver is refused in
    one line saying how to install it, and listed as not usable.
    """
    monkeypatch.setitem(sys.modules, absent, None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        make_camera("picamera2", {})
    assert str(caught.value) == f"camera 'picamera2' {needs}"
    [info] = [info for info in describe_drivers() if info.name == "picamera2"]
    assert not info.usable
    assert info.description == needs


def test_libcamera_that_does_not_load(
    bench: picamera2_double.Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Where libcamera is installed but cannot load, the driver is refused in
    one line saying why.
    """
    install_unloadable(
        monkeypatch,
        "libcamera",
        ImportError("libcamera.so.0.5: cannot open shared object file"),
    )
    with pytest.raises(ConfigError) as caught:
        make_camera("picamera2", {})
    assert str(caught.value) == (
        "camera 'picamera2': picamera2 cannot be loaded: "
        "libcamera.so.0.5: cannot open shared object file"
    )


def test_health_details(bench: picamera2_double.Bench) -> None:
    """
    The health details name the library and encoder, and give the size
    (as configured once the camera has run: picamera2 rounds it), the rate
    and the quality level, as JSON.
    """
    bench.frames_at_start = [make_jpeg(1)]
    camera = Picamera2Camera(width=1279, height=721, fps=25)
    asked = {
        "library": "picamera2",
        "encoder": "MJPEGEncoder",
        "size": [1279, 721],
        "fps": 25,
        "quality": "HIGH",
    }
    assert camera.health_details() == asked
    frames = camera.frames()
    next(frames)
    frames.close()
    details = camera.health_details()
    assert details == asked | {"size": [1278, 720]}
    assert json.loads(json.dumps(details)) == details


def test_health_details_name_the_software_encoder(
    bench: picamera2_double.Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Where picamera2's C{MJPEGEncoder} is its software encoder, as on a
    Raspberry Pi 5, the health details say so.
    """
    monkeypatch.setattr(
        sys.modules["picamera2.encoders"],
        "MJPEGEncoder",
        picamera2_double.LibavMjpegEncoder,
    )
    assert Picamera2Camera().health_details()["encoder"] == "LibavMjpegEncoder"


@reactor_test
async def test_frames_reach_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Served by a L{CameraService}, the frames the encoder writes reach the
    camera's hub, its details reach the hub's health, and stopping the
    service stops recording and closes the camera.
    """
    bench = picamera2_double.install(monkeypatch)
    jpeg = make_jpeg(5)

    def encode() -> None:
        # The encoder's thread: a frame every 20 ms while it runs, for at
        # most 10 s.
        if bench.started.wait(5):
            for _ in range(500):
                if not bench.deliver(jpeg):
                    return
                time.sleep(0.02)

    encoder = threading.Thread(target=encode, daemon=True)
    encoder.start()
    camera = blocking_camera("picamera2", {"width": 320, "height": 240})
    cameras = CameraService(reactor)
    hub = cameras.add_camera("picamera2", camera, driver="picamera2")
    cameras.startService()
    try:
        frame: Frame = await hub.next_frame().addTimeout(5, reactor)
        details = hub.health()["details"]
    finally:
        await cameras.stopService()
        encoder.join(5)
    assert frame.jpeg == jpeg
    assert details["size"] == [320, 240]
    assert bench.calls[-2:] == [("stop_recording",), ("close",)]
    assert not encoder.is_alive()
