# -*- test-case-name: tests.test_opencv -*-
"""
Opening an C{opencv} camera's source: a device asked for its size, rate and
Motion JPEG, a file or stream through FFmpeg with time limits, and why one
does not open, as far as can be told.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from cv2 import VideoCapture

    from camserve.cameras._opencv_source import Source

_JPEG_FOURCCS = frozenset({"MJPG", "JPEG", "jpeg", "mjpa", "AVRn", "dmb1"})
"""Codec tags whose frames are JPEGs: V4L2's and the containers' for MJPEG."""

_OPEN_TIMEOUT_MS = 10_000
"""How long FFmpeg may take to open a stream."""

_READ_TIMEOUT_MS = 5_000
"""How long FFmpeg may wait for a stream's next frame: a stream that stalls
fails, and is opened again, rather than holding the capture thread."""


@frozen
class Opened:
    """
    Facts about the source as opened, for pacing and health.

    @ivar raw: whether the backend was asked for compressed frames.
    @ivar finite: whether it is a recording (paced, and ends) rather than
        live.
    """

    backend: str
    width: int
    height: int
    source_fps: float | None
    raw: bool
    finite: bool


def open_source(
    source: Source,
    *,
    width: int | None,
    height: int | None,
    fps: float | None,
    raw: bool,
) -> tuple[VideoCapture, Opened]:
    """
    Open C{source}, asking a device for the C{width}, C{height} and C{fps}
    wanted, and for compressed frames if C{raw} and the source's codec is
    JPEG.

    @raise OSError: if OpenCV cannot open it, saying why where we can.
    """
    import cv2  # noqa: PLC0415

    target = source.target
    if source.kind == "device":
        capture = cv2.VideoCapture(target, _device_api())
    else:
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS]
        timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, _READ_TIMEOUT_MS]
        capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, timeouts)
    if not capture.isOpened():
        capture.release()
        raise OSError(_cannot_open(source))
    try:
        opened = _configure(
            capture, source, width=width, height=height, fps=fps, raw=raw
        )
    except BaseException:
        capture.release()
        raise
    return capture, opened


def _configure(
    capture: VideoCapture,
    source: Source,
    *,
    width: int | None,
    height: int | None,
    fps: float | None,
    raw: bool,
) -> Opened:
    """
    Ask an opened source for the size, rate and (if C{raw}) compressed
    frames wanted; what it will deliver.
    """
    import cv2  # noqa: PLC0415

    device = source.kind == "device"
    if device:
        # A USB camera sends large frames at full rate only as MJPEG.
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        if width is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height is not None:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps is not None:
            capture.set(cv2.CAP_PROP_FPS, fps)
    codec = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
    if raw and codec.decode("latin-1") in _JPEG_FOURCCS:
        # V4L2 then hands over the device's buffer without converting
        # it, and FFmpeg each packet undecoded.
        raw = (
            capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)
            if device
            else capture.set(cv2.CAP_PROP_FORMAT, -1)
        )
    else:
        raw = False
    rate = capture.get(cv2.CAP_PROP_FPS)
    return Opened(
        backend=capture.getBackendName(),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        source_fps=round(rate, 3) if math.isfinite(rate) and rate > 0 else None,
        raw=raw,
        # Live streams have no frame count; a video over HTTP has one.
        finite=source.kind == "file"
        or (not device and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0),
    )


def _device_api() -> int:
    """
    The OpenCV backend for camera devices: V4L2 on Linux, where passthrough
    is known to work, else whatever OpenCV picks.
    """
    import cv2  # noqa: PLC0415

    return cv2.CAP_V4L2 if sys.platform == "linux" else cv2.CAP_ANY


def _cannot_open(source: Source) -> str:
    """
    The message for C{source} not opening, with why as far as can be told
    without OpenCV, which does not say.
    """
    what = source.described
    if source.kind == "file":
        return f"cannot open {what}: {_why_file_not_open(Path(source.shown))}"
    if source.kind == "device" and sys.platform == "linux":
        if isinstance(source.target, str):
            node = Path(source.target)
        else:
            node = Path(f"/dev/video{source.target}")
            what += f" ({node})"
        return f"cannot open {what}: {_why_device_not_open(node)}"
    return f"cannot open {what}"


def _why_file_not_open(path: Path) -> str:
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "it is a directory"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return "not a video OpenCV can read"


def _why_device_not_open(node: Path) -> str:
    if not node.exists():
        return "no such device"
    if not os.access(node, os.R_OK | os.W_OK):
        return "permission denied (is the user in the video group?)"
    return "OpenCV cannot capture from it (busy, or not a capture device)"
