"""
A test double of linuxpy 0.25.0's V4L2 API (C{linuxpy.video.device}), for
camera hardware this machine lacks.

This module stands in for C{linuxpy.video.device} as far as camserve's v4l2
driver uses it (the protocols in L{camserve.cameras._linuxpy}): the same
names, arguments, enumeration values and return values. The kernel's side is
played by a L{FakeCamera} per device path, plugged in with L{install}: the
formats, sizes and rates it offers, how it adjusts what is asked for (as
the uvcvideo driver does), the buffers it delivers and the system calls
that fail. Each camera records the calls made on it, so that tests can
check what was set and that the device was released.

A frame is waited for on a real file descriptor, a pipe with one byte per
delivered buffer, so the driver's C{select} works as it does on a device.
"""

from __future__ import annotations

import enum
import errno
import importlib.machinery
import os
import sys
import time
import types
from collections import deque
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

from attrs import define, field

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import pytest

    from camserve.cameras import _linuxpy


def _fourcc(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "little")


class PixelFormat(enum.IntEnum):
    """
    Some of linuxpy's fourcc codes, with their real values.
    """

    MJPEG = _fourcc("MJPG")
    JPEG = _fourcc("JPEG")
    YUYV = _fourcc("YUYV")
    GREY = _fourcc("GREY")
    H264 = _fourcc("H264")


class BufferType(enum.IntEnum):
    """
    Some of linuxpy's buffer types, with their real values.
    """

    VIDEO_CAPTURE = 1
    VIDEO_CAPTURE_MPLANE = 9
    META_CAPTURE = 13


class BufferFlag(enum.IntFlag):
    """
    Some of linuxpy's buffer flags, with their real values.
    """

    ERROR = 0x40
    TIMESTAMP_MASK = 0xE000
    TIMESTAMP_UNKNOWN = 0x0
    TIMESTAMP_MONOTONIC = 0x2000
    TIMESTAMP_COPY = 0x4000
    TSTAMP_SRC_SOE = 0x10000


class ImageFormat(NamedTuple):
    """
    linuxpy's C{ImageFormat}: one format offered for one buffer type.
    """

    type: BufferType
    description: str
    flags: int
    pixel_format: PixelFormat


class Format(NamedTuple):
    """
    linuxpy's C{Format}: the format a device has set.
    """

    width: int
    height: int
    pixel_format: PixelFormat
    size: int
    bytes_per_line: int


class V4L2Error(Exception):
    """
    linuxpy's error for a device that cannot do what is asked.
    """


@define
class Buffer:
    """
    A buffer a L{FakeCamera} delivers: its bytes, flags and timestamp.
    """

    data: bytes
    flags: int
    timestamp: float


@define(eq=False)
class FakeCamera:
    """
    A camera as the kernel presents it at one path.

    @ivar formats: the pixel formats it offers, in its order.
    @ivar unsettable: offered formats that setting replaces with the first
        settable one, as drivers that list formats they cannot stream do.
    @ivar buffer_type: the buffer type it offers them for.
    @ivar sizes: the frame sizes it offers, for every format.
    @ivar rates: the frame rates it offers, or L{None} for a driver without
        frame rate control.
    @ivar padding: bytes at the end of each row of an uncompressed frame.
    @ivar open_error: an C{errno} that opening the device fails with.
    @ivar busy: whether another program streams from it, so that setting a
        format fails with C{EBUSY}.
    @ivar capture_capability: whether it says it can capture; linuxpy
        refuses to arm a device that does not.
    @ivar gone: an C{errno} that every call but closing fails with once the
        camera is unplugged.
    @ivar calls: what was done to it, in order.
    """

    formats: Sequence[PixelFormat] = (PixelFormat.MJPEG, PixelFormat.YUYV)
    unsettable: Sequence[PixelFormat] = ()
    buffer_type: BufferType = BufferType.VIDEO_CAPTURE
    sizes: Sequence[tuple[int, int]] = ((640, 480), (1280, 720))
    rates: Sequence[float] | None = (30.0, 15.0)
    padding: int = 0
    open_error: int | None = None
    busy: bool = False
    capture_capability: bool = True
    gone: int | None = None
    calls: list[str] = field(factory=list)
    streaming: bool = False
    _queue: deque[Buffer | OSError] = field(factory=deque)
    _ready: tuple[int, int] = field(factory=os.pipe)

    def deliver(
        self,
        data: bytes,
        flags: int = BufferFlag.TIMESTAMP_MONOTONIC | BufferFlag.TSTAMP_SRC_SOE,
        timestamp: float | None = None,
    ) -> None:
        """
        Queue a filled buffer, by default timestamped now on the monotonic
        clock as uvcvideo does. May be called from any thread.
        """
        stamp = time.monotonic() if timestamp is None else timestamp
        self._queue.append(Buffer(data, flags, stamp))
        os.write(self._ready[1], b"x")

    def fail(self, error_number: int) -> None:
        """
        Make the next dequeue fail with C{error_number}, as a camera's does
        when unplugged (C{ENODEV}), and every later call but closing.
        """
        self._queue.append(_os_error(error_number))
        os.write(self._ready[1], b"x")

    def call(self, name: str | None) -> None:
        """
        Record a call on the device by C{name}, or with L{None} make a call
        not worth recording (one that only reads).

        @raise OSError: if the camera is gone.
        """
        if name is not None:
            self.calls.append(name)
        if self.gone is not None:
            raise _os_error(self.gone)

    def fileno(self) -> int:
        """
        What a device's descriptor stands in for: readable while a buffer
        is queued.
        """
        return self._ready[0]

    def dequeue(self) -> Buffer:
        """
        The next queued buffer.

        @raise OSError: if the camera is not streaming, or a failure was
            queued.
        """
        if not self.streaming:
            raise _os_error(errno.EINVAL)
        if not self._queue:
            raise AssertionError(
                "dequeued with no buffer ready: a real device would block here"
            )
        os.read(self._ready[0], 1)
        item = self._queue.popleft()
        if isinstance(item, OSError):
            self.gone = item.errno
            raise item
        return item

    def discard(self) -> None:
        """
        Close the descriptors behind L{fileno}, once the test is done.
        """
        for descriptor in self._ready:
            os.close(descriptor)


CAMERAS: dict[str, FakeCamera] = {}
"""
The plugged-in cameras, by path.
"""


def install(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeCamera]:
    """
    Make this module be C{linuxpy.video.device} (and give it the parent
    packages C{linuxpy} and C{linuxpy.video}) until the test ends.

    @return: an empty mapping of paths to cameras: plug one in by adding it.
    """
    for name in ("linuxpy", "linuxpy.video"):
        package = types.ModuleType(name)
        package.__path__ = []
        package.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        monkeypatch.setitem(sys.modules, name, package)
    monkeypatch.setitem(sys.modules, "linuxpy.video.device", sys.modules[__name__])
    cameras: dict[str, FakeCamera] = {}
    monkeypatch.setattr(sys.modules[__name__], "CAMERAS", cameras)
    return cameras


class Info:
    """
    linuxpy's C{InfoEx}, as far as formats go.
    """

    def __init__(self, camera: FakeCamera) -> None:
        self._camera = camera

    @property
    def formats(self) -> list[ImageFormat]:
        """
        The formats the camera offers.
        """
        return [
            ImageFormat(
                type=self._camera.buffer_type,
                description=pixel_format.name,
                flags=0,
                pixel_format=pixel_format,
            )
            for pixel_format in self._camera.formats
        ]


class Device:
    """
    linuxpy's C{Device}: a C{/dev/videoN} file, opened without blocking.
    """

    def __init__(
        self,
        name_or_file: str,
        read_write: bool = True,
        io: object = None,
        blocking: bool = False,
    ) -> None:
        self.filename = name_or_file
        self.read_write = read_write
        self.io = io
        self.blocking = blocking
        self.camera: FakeCamera | None = None

    @property
    def info(self) -> Info:
        """
        The device's formats; only once open, as linuxpy sets it on open.
        """
        return Info(self._open_camera())

    @property
    def closed(self) -> bool:
        """
        Whether the file is closed, or was never opened.
        """
        return self.camera is None

    def open(self) -> None:
        """
        Open the file, failing as C{open(2)} would.
        """
        camera = CAMERAS.get(str(self.filename))
        if camera is None:
            raise _os_error(errno.ENOENT)
        if camera.open_error is not None:
            raise _os_error(camera.open_error)
        camera.calls.append("open")
        self.camera = camera

    def close(self) -> None:
        """
        Close the file, if open.
        """
        if self.camera is not None:
            self.camera.calls.append("close")
            self.camera = None

    def fileno(self) -> int:
        """
        The open file's descriptor.
        """
        return self._open_camera().fileno()

    def _open_camera(self) -> FakeCamera:
        if self.camera is None:
            # What linuxpy does with a closed file: no descriptor, no info.
            raise AttributeError("'NoneType' object has no attribute 'fileno'")
        return self.camera


class Frame:
    """
    linuxpy's C{Frame}: one dequeued buffer.
    """

    def __init__(self, buffer: Buffer, format: Format) -> None:  # noqa: A002 - linuxpy's name
        self.data = buffer.data
        self.timestamp = buffer.timestamp
        self.flags = BufferFlag(buffer.flags)
        self.format = format


class VideoCapture:
    """
    linuxpy's C{VideoCapture}: configure, then arm (request, map and queue
    buffers) and start (stream on).
    """

    def __init__(
        self, device: _linuxpy.Device, size: int = 2, buffer_type: object = None
    ) -> None:
        assert isinstance(device, Device)
        self.device = device
        self.size = size
        self.buffer_type = buffer_type
        self.buffer: object | None = None
        self._format: Format | None = None
        self._fps: Fraction | None = None

    def _call(self, name: str | None) -> FakeCamera:
        camera = self.device._open_camera()
        camera.call(name)
        return camera

    def set_format(
        self, width: int, height: int, pixel_format: int | str = "MJPG"
    ) -> None:
        """
        C{S_FMT}: a format the camera cannot set is replaced by the first it
        can, and the size by the nearest it offers, as uvcvideo does.
        """
        code = _fourcc(pixel_format) if isinstance(pixel_format, str) else pixel_format
        camera = self._call(f"set_format {PixelFormat(code).name} {width}x{height}")
        if camera.busy or self.buffer is not None:
            raise _os_error(errno.EBUSY)
        settable = [
            offered for offered in camera.formats if offered not in camera.unsettable
        ]
        chosen = PixelFormat(code) if code in settable else settable[0]
        # uvcvideo's distance: the area of the two sizes not in common.
        frame_width, frame_height = min(
            camera.sizes,
            key=lambda size: (
                size[0] * size[1]
                + width * height
                - 2 * min(size[0], width) * min(size[1], height)
            ),
        )
        compressed = chosen in (PixelFormat.MJPEG, PixelFormat.JPEG)
        self._format = Format(
            width=frame_width,
            height=frame_height,
            pixel_format=chosen,
            size=frame_width * frame_height * 2,
            bytes_per_line=0 if compressed else 2 * frame_width + camera.padding,
        )
        if camera.rates is not None:
            # Setting a format resets the rate to the format's default.
            self._fps = Fraction(camera.rates[0])

    def get_format(self) -> Format:
        """
        C{G_FMT}.
        """
        self._call(None)
        assert self._format is not None, "the driver did not set a format"
        return self._format

    def set_fps(self, fps: float) -> None:
        """
        C{S_PARM}: the nearest offered rate, or C{ENOTTY} without rate
        control.
        """
        camera = self._call(f"set_fps {fps:g}")
        if camera.rates is None:
            raise _os_error(errno.ENOTTY)
        self._fps = Fraction(min(camera.rates, key=lambda rate: abs(rate - fps)))

    def get_fps(self) -> Fraction:
        """
        C{G_PARM}, or C{ENOTTY} without rate control.
        """
        self._call(None)
        if self._fps is None:
            raise _os_error(errno.ENOTTY)
        return self._fps

    def arm(self) -> None:
        """
        Request, map and queue the buffers.
        """
        assert self._format is not None, "armed before setting a format"
        if not self.device._open_camera().capture_capability:
            raise V4L2Error("Device doesn't have VIDEO_CAPTURE capability")
        self.buffer = object()
        self._call("arm")

    def disarm(self) -> None:
        """
        Unmap and free the buffers (C{buffer.close()}), then forget them;
        if that fails, linuxpy keeps C{buffer}.
        """
        self._call("disarm")
        self.buffer = None

    def start(self) -> None:
        """
        Stream on.
        """
        assert self.buffer is not None, "streamed on before arming"
        self._call("stream_on").streaming = True

    def stop(self) -> None:
        """
        Stream off.
        """
        camera = self._call("stream_off")
        camera.streaming = False

    def __iter__(self) -> Iterator[Frame]:
        camera = self.device._open_camera()
        while True:
            buffer = camera.dequeue()
            assert self._format is not None
            yield Frame(buffer, self._format)


def _os_error(error_number: int) -> OSError:
    return OSError(error_number, os.strerror(error_number))
