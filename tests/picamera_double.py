"""
A test double of picamera 1.13's documented API
(U{https://picamera.readthedocs.io/en/release-1.13/}), for the Raspberry
Pi camera hardware this machine cannot have.

L{install} puts it in C{sys.modules} as C{picamera}. It has the parts of the
API the C{pi} driver uses, with the signatures and behaviour of picamera
1.13's source: C{PiCamera(camera_num, ..., resolution, framerate, ...)};
the C{rotation} (rounded down to a quarter turn), C{hflip} and C{vflip}
properties; C{capture_continuous(output, format, use_video_port, ...,
**options)}, a generator that writes each image to the file-like C{output}
(in more than one C{write}, as MMAL hands over buffers) and yields
C{output}, raising C{PiCameraRuntimeError} when a capture times out; and
C{close()}. Instead of a sensor it captures the JPEGs on its L{Bench}, which
records every call in order.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import itertools
import sys
import threading
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from support import double_module

if TYPE_CHECKING:
    import io
    import types
    from collections.abc import Iterator, Sequence

    import pytest


class PiCameraError(Exception):
    """
    picamera's base exception.
    """


class PiCameraRuntimeError(PiCameraError, RuntimeError):
    """
    picamera's error for an operation that failed while running.
    """


class PiResolution(NamedTuple):
    """
    picamera's resolution: a named C{(width, height)} tuple.
    """

    width: int
    height: int


class Bench:
    """
    The pretend hardware: what the camera captures, how it fails, and the
    record of calls made to it.

    @ivar calls: each call, in order, as a tuple of its name and arguments.
    @ivar jpegs: the images the camera captures, in order.
    @ivar loop: capture C{jpegs} over and over, rather than time out after
        the last.
    @ivar frame_period: seconds each capture takes, as a frame interval does.
    @ivar open_error: raised by C{PiCamera()} instead of opening.
    @ivar capture_starts: for each capture, the output and its position and
        length as the capture began.
    @ivar capture_timeouts: for each capture, the camera's
        C{CAPTURE_TIMEOUT}, the seconds picamera waits for it to end.
    @ivar closed: set when a camera is closed.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.jpegs: list[bytes] = []
        self.loop = False
        self.frame_period = 0.0
        self.open_error: Exception | None = None
        self.capture_starts: list[tuple[io.BytesIO, int, int]] = []
        self.capture_timeouts: list[float] = []
        self.closed = threading.Event()


class PiCamera:
    """
    picamera's C{PiCamera}, on a L{Bench}.
    """

    bench: ClassVar[Bench]
    CAPTURE_TIMEOUT = 60

    def __init__(  # noqa: PLR0917 - picamera's signature
        self,
        camera_num: int = 0,
        stereo_mode: str = "none",
        stereo_decimate: bool = False,
        resolution: tuple[int, int] | None = None,
        framerate: float | None = None,
        sensor_mode: int = 0,
        led_pin: int | None = None,
        clock_mode: str = "reset",
        framerate_range: tuple[float, float] | None = None,
    ) -> None:
        self.bench.calls.append(
            (
                "PiCamera",
                {
                    "camera_num": camera_num,
                    "stereo_mode": stereo_mode,
                    "stereo_decimate": stereo_decimate,
                    "resolution": resolution,
                    "framerate": framerate,
                    "sensor_mode": sensor_mode,
                    "led_pin": led_pin,
                    "clock_mode": clock_mode,
                    "framerate_range": framerate_range,
                },
            )
        )
        if self.bench.open_error is not None:
            raise self.bench.open_error
        self.resolution = PiResolution(*(resolution or (1280, 720)))
        self.framerate = Fraction(30 if framerate is None else framerate)
        self._rotation = 0
        self._hflip = False
        self._vflip = False
        self.closed = False

    @property
    def rotation(self) -> int:
        """
        Degrees clockwise: 0, 90, 180 or 270.
        """
        return self._rotation

    @rotation.setter
    def rotation(self, value: int) -> None:
        self.bench.calls.append(("rotation", value))
        self._rotation = ((int(value) % 360) // 90) * 90

    @property
    def hflip(self) -> bool:
        """
        Whether the image is mirrored left to right.
        """
        return self._hflip

    @hflip.setter
    def hflip(self, value: bool) -> None:
        self.bench.calls.append(("hflip", value))
        self._hflip = bool(value)

    @property
    def vflip(self) -> bool:
        """
        Whether the image is upside down.
        """
        return self._vflip

    @vflip.setter
    def vflip(self, value: bool) -> None:
        self.bench.calls.append(("vflip", value))
        self._vflip = bool(value)

    def capture_continuous(  # noqa: PLR0917 - picamera's signature
        self,
        output: io.BytesIO,
        format: str | None = None,  # noqa: A002 - picamera's name
        use_video_port: bool = False,
        resize: tuple[int, int] | None = None,
        splitter_port: int = 0,
        burst: bool = False,
        bayer: bool = False,
        **options: object,
    ) -> Iterator[io.BytesIO]:
        """
        Capture the bench's JPEGs into C{output}, yielding it after each.

        @raise PiCameraRuntimeError: when there is nothing more to capture,
            as picamera does when a capture times out.
        """
        bench = self.bench
        bench.calls.append(
            (
                "capture_continuous",
                output,
                {
                    "format": format,
                    "use_video_port": use_video_port,
                    "resize": resize,
                    "splitter_port": splitter_port,
                    "burst": burst,
                    "bayer": bayer,
                    **options,
                },
            )
        )
        try:
            jpegs = itertools.cycle(bench.jpegs) if bench.loop else bench.jpegs
            for jpeg in jpegs:
                if bench.frame_period:
                    bench.closed.wait(bench.frame_period)
                bench.capture_starts.append(
                    (output, output.tell(), len(output.getbuffer()))
                )
                bench.capture_timeouts.append(self.CAPTURE_TIMEOUT)
                half = len(jpeg) // 2
                output.write(jpeg[:half])
                output.write(jpeg[half:])
                yield output
            raise PiCameraRuntimeError("Timed out waiting for capture to end")
        finally:
            bench.calls.append(("capture_continuous ended",))

    def close(self) -> None:
        """
        Release the camera.
        """
        self.bench.calls.append(("close",))
        self.closed = True
        self.bench.closed.set()


def install(monkeypatch: pytest.MonkeyPatch) -> Bench:
    """
    Make this double the C{picamera} module for the rest of the test.

    @return: the bench its cameras use.
    """
    bench = Bench()
    monkeypatch.setattr(PiCamera, "bench", bench, raising=False)
    monkeypatch.setitem(
        sys.modules,
        "picamera",
        double_module(
            "picamera",
            __doc__,
            PiCamera=PiCamera,
            PiCameraError=PiCameraError,
            PiCameraRuntimeError=PiCameraRuntimeError,
            PiResolution=PiResolution,
        ),
    )
    return bench


def install_unloadable(
    monkeypatch: pytest.MonkeyPatch, name: str, error: Exception
) -> None:
    """
    For the rest of the test, make C{name} a module that is installed but
    raises C{error} when imported, as picamera does where the legacy camera
    stack's C{libmmal.so} is missing.
    """

    class Loader(importlib.abc.Loader):
        def exec_module(self, module: types.ModuleType) -> None:  # noqa: ARG002 - the importlib protocol's signature
            raise error

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(
            self,
            fullname: str,
            path: Sequence[str] | None,  # noqa: ARG002 - the importlib protocol's signature
            target: types.ModuleType | None = None,  # noqa: ARG002
        ) -> importlib.machinery.ModuleSpec | None:
            if fullname != name:
                return None
            return importlib.machinery.ModuleSpec(name, Loader())

    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
