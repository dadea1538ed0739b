# -*- test-case-name: tests.test_v4l2 -*-
"""
The part of linuxpy's V4L2 API (C{linuxpy.video.device}) that the v4l2
driver uses, as typing protocols, and its lazy import.

linuxpy ships no type hints, so these protocols are what mypy checks the
driver against; the test double implements them and a test compares them
with the installed linuxpy. Names, argument names and return values are
linuxpy's (0.25.0).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from fractions import Fraction

MODULE = "linuxpy.video.device"
"""
Where the API lives; imported only when a camera starts, so that camserve
runs, and lists this driver as unusable, where linuxpy is not installed.
"""


class ImageFormat(Protocol):
    """
    One pixel format a device offers for one buffer type (C{ENUM_FMT}).
    """

    @property
    def type(self) -> int:
        """
        The buffer type (a C{BufferType}) the format is offered for.
        """

    @property
    def pixel_format(self) -> int:
        """
        The format's fourcc code (a C{PixelFormat}).
        """


class Info(Protocol):
    """
    What a device says about itself (C{Device.info}).
    """

    @property
    def formats(self) -> Sequence[ImageFormat]:
        """
        Every format the device offers, for every buffer type it has.
        """


class Format(Protocol):
    """
    The format a device has set (C{G_FMT}): possibly not the one asked for.
    """

    @property
    def width(self) -> int:
        """
        Frame width in pixels.
        """

    @property
    def height(self) -> int:
        """
        Frame height in pixels.
        """

    @property
    def pixel_format(self) -> int:
        """
        The fourcc code.
        """

    @property
    def bytes_per_line(self) -> int:
        """
        Bytes from one row to the next in an uncompressed buffer, padding
        included; 0 for compressed formats.
        """


class Frame(Protocol):
    """
    One dequeued capture buffer.
    """

    @property
    def data(self) -> bytes:
        """
        The buffer's bytes, copied out of the driver's memory.
        """

    @property
    def timestamp(self) -> float:
        """
        The buffer's timestamp in seconds, on the clock C{flags} names.
        """

    @property
    def flags(self) -> int:
        """
        The buffer's flags (a C{BufferFlag}).
        """


class Device(Protocol):
    """
    A C{/dev/videoN} file.
    """

    @property
    def info(self) -> Info:
        """
        The device's capabilities and formats; read once open.
        """

    def open(self) -> None:
        """
        Open the file, without blocking reads.

        @raise OSError: if it cannot be opened.
        """

    def close(self) -> None:
        """
        Close the file, if open.
        """

    def fileno(self) -> int:
        """
        The open file's descriptor, to wait on for frames.
        """


class VideoCapture(Protocol):
    """
    Capture from a device: configure, then C{arm} (request and map buffers)
    and C{start} (stream on); C{stop} and C{disarm} undo them.
    """

    @property
    def buffer(self) -> object | None:
        """
        The mapped buffers while armed, else L{None}.
        """

    def set_format(self, width: int, height: int, pixel_format: int) -> object:
        """
        Ask for a format (C{S_FMT}); the device may set a different one.
        """

    def get_format(self) -> Format:
        """
        The format the device has set.
        """

    def set_fps(self, fps: float) -> object:
        """
        Ask for a frame rate (C{S_PARM}); the device may set a different one.
        """

    def get_fps(self) -> Fraction:
        """
        The frame rate the device has set.
        """

    def arm(self) -> None:
        """
        Request, map and queue the buffers.
        """

    def disarm(self) -> None:
        """
        Unmap and free the buffers.
        """

    def start(self) -> None:
        """
        Stream on.
        """

    def stop(self) -> None:
        """
        Stream off.
        """

    def __iter__(self) -> Iterator[Frame]:
        """
        Frames as they are dequeued, each waiting for the device.
        """


class PixelFormats(Protocol):
    """
    The fourcc codes of C{PixelFormat} that the driver names.
    """

    @property
    def MJPEG(self) -> int:
        """
        C{MJPG}, what UVC cameras send compressed.
        """

    @property
    def JPEG(self) -> int:
        """
        C{JPEG}, what some other drivers call the same thing.
        """

    @property
    def YUYV(self) -> int:
        """
        C{YUYV}, packed YUV 4:2:2, what UVC cameras send uncompressed.
        """


class BufferTypes(Protocol):
    """
    The C{BufferType} the driver names.
    """

    @property
    def VIDEO_CAPTURE(self) -> int:
        """
        Single-planar video capture.
        """


class BufferFlags(Protocol):
    """
    The C{BufferFlag}s the driver reads.
    """

    @property
    def ERROR(self) -> int:
        """
        The driver delivered the buffer but knows its data is damaged.
        """

    @property
    def TIMESTAMP_MASK(self) -> int:
        """
        The bits that say which clock C{Frame.timestamp} is on.
        """

    @property
    def TIMESTAMP_MONOTONIC(self) -> int:
        """
        C{Frame.timestamp} is on C{CLOCK_MONOTONIC}.
        """


class VideoModule(Protocol):
    """
    The module C{linuxpy.video.device}, as far as the driver uses it.
    """

    @property
    def PixelFormat(self) -> PixelFormats:
        """
        The fourcc codes.
        """

    @property
    def BufferType(self) -> BufferTypes:
        """
        The buffer types.
        """

    @property
    def BufferFlag(self) -> BufferFlags:
        """
        The buffer flags.
        """

    @property
    def V4L2Error(self) -> type[Exception]:
        """
        What linuxpy raises for a device that cannot do what is asked.
        """

    def VideoCapture(self, device: Device, /) -> VideoCapture:
        """
        Capture from an open device, with linuxpy's two buffers.
        """

    def Device(self, name_or_file: str, /) -> Device:
        """
        A device for a path, not yet open.
        """


def load() -> VideoModule:
    """
    Import linuxpy's V4L2 API.

    @raise ImportError: if linuxpy is not installed.
    """
    return cast("VideoModule", importlib.import_module(MODULE))
