# -*- test-case-name: tests.test_v4l2 -*-
"""
The v4l2 camera: a Linux camera read straight from C{/dev/videoN} through
linuxpy, its MJPEG passed through untouched or its YUYV encoded.
"""

from __future__ import annotations

import errno
import select
import time
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from attrs import frozen
from zope.interface import implementer

from camserve._jpeg import whole_jpeg
from camserve.cameras import _linuxpy
from camserve.cameras._options import (
    check_frame_options,
    check_positive,
    frame_wait,
)
from camserve.interfaces import ICamera, IHealthDetails

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from camserve.cameras._linuxpy import Device, Frame, VideoCapture, VideoModule

FORMATS = ("auto", "mjpeg", "yuyv")
"""
The C{format} option's values: MJPEG if the device offers it, else YUYV;
only MJPEG; only YUYV.
"""

_REASONS = {
    errno.ENOENT: "no such device",
    errno.ENODEV: "no such device",
    errno.ENXIO: "no such device",
    errno.EACCES: "permission denied (is the user in the video group?)",
    errno.EPERM: "permission denied (is the user in the video group?)",
    errno.EBUSY: "device busy (is another program using it?)",
    errno.ENOTTY: "not a V4L2 device",
}
"""
What the errors a user can act on mean for a camera, said their way.
"""


class V4L2CameraError(Exception):
    """
    A V4L2 device cannot be used, or stopped working; the message is one
    line naming the device.
    """


@frozen
class _Negotiated:
    """
    What a device accepted when the camera last started.

    @ivar fourcc: the pixel format, e.g. C{"MJPG"}.
    @ivar passthrough: whether its buffers are JPEGs, passed on as they are.
    @ivar fps: the frame rate the device reports, or L{None} if it has no
        frame rate control.
    """

    fourcc: str
    passthrough: bool
    width: int
    height: int
    bytes_per_line: int
    fps: float | None


@implementer(ICamera, IHealthDetails)
class V4L2Camera:
    """
    A Video4Linux2 camera, such as any USB (UVC) webcam, read with linuxpy.

    When the device offers MJPEG, its JPEGs are passed through untouched
    (after checking each is whole), costing almost no CPU; otherwise YUYV
    frames are encoded with OpenCV. The device picks the size nearest to the
    one asked for, and the frame rate nearest to C{fps}; L{health_details}
    says what it accepted.
    """

    description = "a Linux camera at /dev/videoN: MJPEG passed through, or YUYV encoded"
    requires: ClassVar[dict[str, str]] = {"linuxpy": "pip install 'camserve[v4l2]'"}

    def __init__(
        self,
        *,
        source: str = "/dev/video0",
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        quality: int = 80,
        format: str = "auto",  # noqa: A002 - the option's name, as uStreamer's --format
        frame_timeout: float = 5.0,
    ) -> None:
        """
        @param source: the device: a path such as C{/dev/video0} or a stable
            C{/dev/v4l/by-id/...} link, or a number C{N} for C{/dev/videoN}.
        @param width: the frame width to ask for, 16 to 7680.
        @param height: the frame height to ask for, 16 to 4320.
        @param fps: the frame rate to ask for, greater than 0.
        @param quality: JPEG quality for encoded YUYV frames, 1 to 100.
        @param format: one of L{FORMATS}.
        @param frame_timeout: seconds without a frame (at least three frame
            intervals) before the camera counts as failed and is reopened.

        @raise ValueError: for an option out of range.
        """
        if source.isdigit():
            source = f"/dev/video{source}"
        elif not source.startswith("/"):
            raise ValueError(
                f"source must be a device path like /dev/video0 or a number, not {source!r}"
            )
        check_frame_options(width=width, height=height, fps=fps, quality=quality)
        if format.lower() not in FORMATS:
            raise ValueError(f"format must be auto, mjpeg or yuyv, not {format!r}")
        check_positive("frame_timeout", frame_timeout)
        self.device = source
        self.width = width
        self.height = height
        self.fps = fps
        self.quality = quality
        self.format = format.lower()
        self.frame_timeout = frame_timeout
        # Written by the capture thread, read by health_details in the
        # reactor thread: each is replaced whole, never changed in place.
        self._negotiated: _Negotiated | None = None
        self._corrupt_frames = 0

    def frames(self) -> Generator[tuple[bytes, float]]:
        """
        Open the device, negotiate a format, and yield each frame with its
        capture time until closed, then stop streaming, free the buffers and
        close the device.

        @raise ImportError: if linuxpy is not installed.
        @raise V4L2CameraError: if the device cannot be opened or set up, stops
            sending frames for C{frame_timeout}, or fails to deliver one.
        """
        video = _linuxpy.load()
        self._negotiated = None
        device = video.Device(self.device)
        try:
            device.open()
        except OSError as error:
            raise V4L2CameraError(
                f"cannot open {self.device}: {_reason(error)}"
            ) from error
        capture = video.VideoCapture(device)
        try:
            try:
                negotiated = self._negotiate(video, device, capture)
                convert = self._converter(negotiated)
                capture.arm()
                capture.start()
            except (OSError, ValueError, video.V4L2Error) as error:
                # linuxpy raises its own V4L2Error for a device that cannot
                # capture, and ValueError for a pixel format it does not know.
                raise V4L2CameraError(
                    f"cannot start {self.device}: {_reason(error)}"
                ) from error
            yield from self._stream(video, device, capture, negotiated, convert)
        finally:
            _release(device, capture)

    def _negotiate(
        self, video: VideoModule, device: Device, capture: VideoCapture
    ) -> _Negotiated:
        """
        Choose and set the pixel format, size and rate.

        @return: what the device accepted.
        """
        offered = [
            image_format.pixel_format
            for image_format in device.info.formats
            if image_format.type == video.BufferType.VIDEO_CAPTURE
        ]
        if not offered:
            # A UVC camera's second node (/dev/video1 for /dev/video0)
            # carries only metadata: an easy mistake to make.
            raise V4L2CameraError(
                f"{self.device} is not a video capture device (it offers no capture formats)"
            )
        wanted = self._choose(video, offered)
        capture.set_format(self.width, self.height, wanted)
        accepted = capture.get_format()
        if accepted.pixel_format != wanted:
            raise V4L2CameraError(
                f"{self.device} would not set {_fourcc(wanted)}; "
                f"it set {_fourcc(accepted.pixel_format)}"
            )
        self._negotiated = _Negotiated(
            fourcc=_fourcc(wanted),
            passthrough=wanted != video.PixelFormat.YUYV,
            width=accepted.width,
            height=accepted.height,
            bytes_per_line=accepted.bytes_per_line,
            fps=self._set_rate(capture),
        )
        return self._negotiated

    def _converter(self, negotiated: _Negotiated) -> Callable[[bytes], bytes | None]:
        """
        What turns a buffer of the C{negotiated} format into a JPEG, or into
        L{None} if it is not a whole frame.
        """
        if negotiated.passthrough:
            return whole_jpeg
        from camserve.cameras._yuyv import encode_yuyv  # noqa: PLC0415 - OpenCV only for YUYV

        return partial(
            encode_yuyv,
            width=negotiated.width,
            height=negotiated.height,
            bytes_per_line=negotiated.bytes_per_line,
            quality=self.quality,
        )

    def _choose(self, video: VideoModule, offered: list[int]) -> int:
        """
        The pixel format to ask for, of those C{offered}.
        """
        if self.format != "yuyv":
            # Some drivers call what UVC calls MJPG by JPEG's own fourcc.
            for compressed in (video.PixelFormat.MJPEG, video.PixelFormat.JPEG):
                if compressed in offered:
                    return compressed
        if self.format != "mjpeg" and video.PixelFormat.YUYV in offered:
            return video.PixelFormat.YUYV
        wanted = {
            "auto": "neither MJPEG nor YUYV",
            "mjpeg": "no MJPEG",
            "yuyv": "no YUYV",
        }
        raise V4L2CameraError(
            f"{self.device} offers {wanted[self.format]}, only "
            + ", ".join(_fourcc(pixel_format) for pixel_format in offered)
        )

    def _set_rate(self, capture: VideoCapture) -> float | None:
        """
        Ask for C{fps}, and read back the rate the device set.

        @return: that rate, or L{None} if the device has no rate control.
        """
        try:
            capture.set_fps(self.fps)
        except OSError as error:
            # Drivers without frame rate control (no S_PARM) simply stream
            # at their own rate.
            if error.errno not in (errno.ENOTTY, errno.EINVAL):
                raise
        try:
            return round(float(capture.get_fps()), 3)
        except (OSError, ZeroDivisionError):
            # No G_PARM either, or a driver that reports a zero interval.
            return None

    def _stream(
        self,
        video: VideoModule,
        device: Device,
        capture: VideoCapture,
        negotiated: _Negotiated,
        convert: Callable[[bytes], bytes | None],
    ) -> Generator[tuple[bytes, float]]:
        """
        Yield each whole frame, converted, with its capture time; count and
        skip the others.
        """
        wait = frame_wait(self.frame_timeout, negotiated.fps or self.fps)
        damaged = video.BufferFlag.ERROR
        frames = iter(capture)
        whole_at = time.monotonic()
        while True:
            # linuxpy would wait for ever; a camera that hangs (as some do
            # after a USB error) must fail so that it is reopened.
            ready, _, _ = select.select([device], [], [], wait)
            if not ready:
                raise V4L2CameraError(f"{self.device} sent no frame for {wait:g} s")
            try:
                frame = next(frames)
            except OSError as error:
                raise V4L2CameraError(
                    f"lost {self.device}: {_reason(error)}"
                ) from error
            jpeg = None if frame.flags & damaged else convert(frame.data)
            if jpeg is None:
                self._corrupt_frames += 1
                # A camera sending only damaged buffers is as stuck as a
                # silent one, and must not hold the capture thread for ever.
                if time.monotonic() - whole_at > wait:
                    raise V4L2CameraError(
                        f"{self.device} sent no whole frame for {wait:g} s"
                    )
                continue
            whole_at = time.monotonic()
            yield jpeg, _capture_time(video, frame, wait)

    def health_details(self) -> dict[str, object]:
        """
        The device, what it accepted when the camera last started (all
        L{None} before it first has), and how many damaged frames were
        skipped since this camera was made.
        """
        negotiated = self._negotiated
        if negotiated is None:
            accepted: dict[str, object] = dict.fromkeys(
                ("format", "path", "width", "height", "fps")
            )
        else:
            accepted = {
                "format": negotiated.fourcc,
                "path": "passthrough" if negotiated.passthrough else "yuyv+encode",
                "width": negotiated.width,
                "height": negotiated.height,
                "fps": negotiated.fps,
            }
        return {
            "device": self.device,
            **accepted,
            "corrupt_frames": self._corrupt_frames,
        }


def _capture_time(video: VideoModule, frame: Frame, wait: float) -> float:
    """
    When C{frame} was captured, in Unix seconds: its buffer timestamp, if
    that is on the monotonic clock (as UVC's is) and plausible, moved onto
    the wall clock; else now.

    @param wait: the longest a frame can have waited; an older timestamp is
        from some other clock.
    """
    now = time.time()
    clock = frame.flags & video.BufferFlag.TIMESTAMP_MASK
    if clock == video.BufferFlag.TIMESTAMP_MONOTONIC:
        # Python's monotonic clock is CLOCK_MONOTONIC on Linux, as V4L2's is.
        age = time.monotonic() - frame.timestamp
        if 0 <= age <= wait:
            return now - age
    return now


def _release(device: Device, capture: VideoCapture) -> None:
    """
    Stop streaming, free the buffers and close the device, each attempted
    even if the one before failed.

    An unplugged camera fails the first two; the file must be closed
    anyway, and only after the buffers are unmapped, since a mapping holds
    the device open.
    """
    if capture.buffer is not None:
        with suppress(OSError):
            capture.stop()
        with suppress(OSError):
            capture.disarm()
    device.close()


def _reason(error: Exception) -> str:
    """
    What C{error} means for a camera, in a few words.
    """
    if isinstance(error, OSError) and error.errno in _REASONS:
        return _REASONS[error.errno]
    text = (
        (error.strerror if isinstance(error, OSError) else None)
        or str(error).strip().split("\n")[0]
        or type(error).__name__
    )
    return text[:1].lower() + text[1:]


def _fourcc(pixel_format: int) -> str:
    """
    A pixel format's four-character code, e.g. C{"MJPG"}.
    """
    return pixel_format.to_bytes(4, "little").decode("ascii", "replace").strip()
