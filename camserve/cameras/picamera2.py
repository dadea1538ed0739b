# -*- test-case-name: tests.test_picamera2 -*-
"""
The C{picamera2} driver: a Raspberry Pi camera through picamera2 and
libcamera, its frames encoded by picamera2's C{MJPEGEncoder}.
"""

from __future__ import annotations

import importlib
import io
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from twisted.logger import Logger
from zope.interface import implementer

from camserve._errors import ConfigError
from camserve.cameras._options import (
    check_frame_options,
    check_positive,
    frame_wait,
)
from camserve.cameras._reasons import innermost_reason
from camserve.interfaces import ICamera, IHealthDetails

if TYPE_CHECKING:
    from collections.abc import Generator
    from types import ModuleType

    from _typeshed import ReadableBuffer

_log = Logger()

_QUALITY_LEVELS = ("VERY_LOW", "LOW", "MEDIUM", "HIGH", "VERY_HIGH")
"""
picamera2's C{Quality} levels, lowest first; C{quality} 1 to 100 is spread
evenly over them.
"""


@implementer(ICamera, IHealthDetails)
class Picamera2Camera:
    """
    A Raspberry Pi camera through picamera2, the library of the libcamera
    camera stack (Raspberry Pi OS Bullseye and newer).

    Each run opens the camera with a video configuration of C{width}x
    C{height} at C{fps} and records with picamera2's C{MJPEGEncoder} into a
    C{FileOutput}, as the picamera2 manual's MJPEG streaming example does:
    frames are encoded by the encoder as the camera delivers them, never
    captured one by one. That encoder is the hardware JPEG encoder on
    Raspberry Pi 4 and older, and a software (libav) one on Raspberry Pi 5,
    which has none.

    libcamera on the Raspberry Pi can flip the image but not turn it a
    quarter turn, so C{rotation} is 0 or 180 (which is both flips).
    """

    description = "Raspberry Pi camera through picamera2 and libcamera, MJPEG encoder"
    requires: ClassVar[dict[str, str]] = {
        "picamera2": "sudo apt install python3-picamera2, "
        "or pip install 'camserve[picamera2]'",
        "libcamera": "sudo apt install python3-libcamera (pip cannot install it); "
        "in a venv, make the venv with --system-site-packages",
    }

    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        rotation: int = 0,
        hflip: bool = False,
        vflip: bool = False,
        quality: int = 80,
        camera_num: int = 0,
        frame_timeout: float = 5.0,
    ) -> None:
        """
        @param width: frame width in pixels (16 to 7680); picamera2 rounds it
            down to an even number, and the sensor may allow less.
        @param height: frame height in pixels (16 to 4320), likewise.
        @param fps: frames per second, greater than 0 (the C{FrameRate}
            control).
        @param rotation: degrees: 0 or 180.
        @param hflip: mirror the image left to right.
        @param vflip: flip the image upside down.
        @param quality: 1 to 100, spread over picamera2's five C{Quality}
            levels: 1 to 20 is C{VERY_LOW}, ..., 81 to 100 C{VERY_HIGH}.
        @param camera_num: which camera, on boards with two.
        @param frame_timeout: seconds without a frame (at least three frame
            intervals) after which the camera is reported as failed.

        @raise ValueError: for an option out of range, or if picamera2 is
            installed but cannot be loaded.
        """
        check_frame_options(width=width, height=height, fps=fps, quality=quality)
        if rotation not in (0, 180):
            raise ValueError(
                f"rotation must be 0 or 180, not {rotation}: libcamera on the "
                "Raspberry Pi can flip the image but not turn it a quarter turn"
            )
        if camera_num < 0:
            raise ValueError(f"camera_num must be 0 or more, not {camera_num}")
        check_positive("frame_timeout", frame_timeout)
        self.width = width
        self.height = height
        self.fps = fps
        self.rotation = rotation
        self.hflip = hflip
        self.vflip = vflip
        self.quality = quality
        self.camera_num = camera_num
        self.frame_timeout = frame_timeout
        # Loading picamera2 at start rather than at the first viewer turns a
        # broken install into one line at start instead of endless retries.
        library, encoders, outputs, libcamera = _load_picamera2()
        self._picamera2 = library.Picamera2
        self._encoder = encoders.MJPEGEncoder
        self._file_output = outputs.FileOutput
        self._transform = libcamera.Transform
        self._quality = encoders.Quality[_QUALITY_LEVELS[(quality - 1) // 20]]
        # What the camera was configured with: picamera2 may round the size.
        self._size = (width, height)

    def frames(self) -> Generator[tuple[bytes, float]]:
        """
        Open and configure the camera, start recording, and yield each JPEG
        the encoder makes, with the time it was made, until closed; then, or
        on any error, stop recording and close the camera.

        @raise RuntimeError: if the camera cannot be opened or started.
        @raise TimeoutError: if no frame comes for C{frame_timeout} seconds,
            or three frame intervals if longer.
        """
        wait = frame_wait(self.frame_timeout, self.fps)
        try:
            camera = self._picamera2(camera_num=self.camera_num)
        except Exception as error:
            raise RuntimeError(
                f"cannot open the camera: {innermost_reason(error)}"
            ) from error
        try:
            newest = _NewestFrame()
            try:
                self._start(camera, newest)
                while True:
                    yield newest.take(wait)
            finally:
                # Also after a failed start, which may leave the encoder running.
                _stop_recording(camera)
        finally:
            camera.close()

    def _start(self, camera: Any, newest: _NewestFrame) -> None:
        """
        Configure C{camera} and start recording into C{newest}.

        @raise RuntimeError: if that fails.
        """
        # Rotation is 0 or 180 degrees, and 180 is both flips: asking for a
        # flip as well undoes that one.
        turned = self.rotation != 0
        try:
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height)},
                transform=self._transform(
                    hflip=self.hflip != turned, vflip=self.vflip != turned
                ),
                controls={"FrameRate": self.fps},
            )
            camera.configure(config)
            width, height = camera.camera_configuration()["main"]["size"]
            self._size = (width, height)
            camera.start_recording(
                self._encoder(), self._file_output(newest), quality=self._quality
            )
        except Exception as error:
            raise RuntimeError(
                f"cannot start the camera: {innermost_reason(error)}"
            ) from error

    def health_details(self) -> dict[str, object]:
        """
        The library and encoder frames come from, the size the camera was
        last configured with (or the asked one), the asked rate and the
        encoder's quality level.
        """
        return {
            "library": "picamera2",
            "encoder": self._encoder.__name__,
            "size": list(self._size),
            "fps": self.fps,
            "quality": self._quality.name,
        }


class _NewestFrame(io.BufferedIOBase):
    """
    The file picamera2's C{FileOutput} writes each JPEG to: a slot holding
    only the newest frame, which the capture thread takes.

    The encoder writes from a thread of its own, each JPEG in one C{write};
    a frame not taken before the next is written is dropped (newest wins),
    so a slow reader never makes frames queue up.
    """

    def __init__(self) -> None:
        super().__init__()
        self._condition = threading.Condition()
        self._frame: tuple[bytes, float] | None = None

    def writable(self) -> bool:
        """
        Writable, as C{FileOutput} expects of its file.
        """
        return True

    def write(self, buffer: ReadableBuffer, /) -> int:
        """
        Keep C{buffer}, one whole JPEG, as the newest frame, with the time
        now as its capture time.

        The encoder's own timestamp counts microseconds from the first frame
        of the run, not from any clock, so it gives no wall time; the JPEG is
        written as soon as the encoder has it, so now is its capture time
        late by the encoding latency only.
        """
        jpeg = bytes(buffer)
        with self._condition:
            self._frame = (jpeg, time.time())
            self._condition.notify()
        return len(jpeg)

    def take(self, timeout: float) -> tuple[bytes, float]:
        """
        The newest frame not yet taken, waiting for one if needed.

        @raise TimeoutError: if none is written within C{timeout} seconds.
        """
        with self._condition:
            self._condition.wait_for(lambda: self._frame is not None, timeout)
            frame, self._frame = self._frame, None
        if frame is None:
            raise TimeoutError(f"the camera sent no frame for {timeout:g} s")
        return frame


def _stop_recording(camera: Any) -> None:
    """
    Stop C{camera} recording; a failure to is logged, not raised, so that
    the camera is still closed and the run's own error, if any, is the one
    reported.
    """
    try:
        camera.stop_recording()
    except Exception as error:  # noqa: BLE001 - any library error
        _log.warn(
            "picamera2: stopping the recording failed: {reason}",
            reason=innermost_reason(error),
        )


def _load_picamera2() -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """
    Import picamera2, the modules of it the driver uses, and libcamera.

    @raise ConfigError: if they cannot be loaded.
    """
    # importlib rather than import statements: mypy runs where picamera2 is
    # not installed (and it has no type hints), and in a module itself named
    # picamera2 the library's name is clearer as a string.
    try:
        return (
            importlib.import_module("picamera2"),
            importlib.import_module("picamera2.encoders"),
            importlib.import_module("picamera2.outputs"),
            importlib.import_module("libcamera"),
        )
    except Exception as error:  # noqa: BLE001 - a native library fails to load in many ways
        raise ConfigError(
            f"picamera2 cannot be loaded: {innermost_reason(error)}"
        ) from None
