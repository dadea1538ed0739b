# -*- test-case-name: tests.test_opencv -*-
"""
The opencv camera: a camera device, a video file or a network stream read
through OpenCV's C{VideoCapture}, with Motion JPEG passed through untouched
wherever the source delivers it.
"""

from __future__ import annotations

import enum
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from attrs import frozen
from zope.interface import implementer

from camserve._jpeg import jpeg_size, whole_jpeg
from camserve.cameras._opencv_source import Source, parse_source
from camserve.cameras._options import check_frame_options
from camserve.cameras._pacing import Pacer, RateLimiter, next_timestamp
from camserve.cameras._transform import FLIPS, ROTATIONS, Plan, make_plan
from camserve.interfaces import ICamera, ICheckable, IHealthDetails

if TYPE_CHECKING:
    from collections.abc import Generator

    from cv2 import VideoCapture
    from cv2.typing import MatLike

Item = tuple[bytes, float]
"""A frame as C{frames()} yields it: JPEG bytes and their capture time."""

_JPEG_FOURCCS = frozenset({"MJPG", "JPEG", "jpeg", "mjpa", "AVRn", "dmb1"})
"""Codec tags whose frames are JPEGs: V4L2's and the containers' for MJPEG."""

BROKEN_LIMIT = 5
"""Frames in a row that are not whole JPEGs (or do not decode) before the
driver gives up on them: it switches to decode+encode, or fails."""

HOLD_INTERVAL = 1.0
"""Seconds between repeats of a finished file's last frame (C{loop} off)."""

_OPEN_TIMEOUT_MS = 10_000
"""How long FFmpeg may take to open a stream."""

_READ_TIMEOUT_MS = 5_000
"""How long FFmpeg may wait for a stream's next frame: a stream that stalls
fails, and is opened again, rather than holding the capture thread."""


class _End(enum.Enum):
    """
    Why one pass over an opened source ended.
    """

    ENDED = "the source had no more frames"
    NOT_JPEG = "the compressed frames are not whole JPEGs"


@frozen
class _Pass:
    """
    How a pass over an opened source went.

    @ivar grabbed: frames read, whether or not they were sent.
    @ivar broken: frames that could not be served, in a row at its end.
    @ivar duration: the pass's length on the recording's timeline.
    @ivar last: the last frame sent, if any.
    """

    end: _End
    grabbed: int
    broken: int
    duration: float
    last: Item | None


@frozen
class _Opened:
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


@implementer(ICamera, IHealthDetails, ICheckable)
class OpenCVCamera:
    """
    A camera device, video file or network stream, through OpenCV.

    Where the source delivers Motion JPEG (a V4L2 camera in MJPG mode, an
    MJPEG video file, an MJPEG HTTP stream such as another camserve) and no
    resize, rotation or mirror is asked, its own JPEG bytes are served
    without being decoded or encoded again ("passthrough"); otherwise frames
    are decoded, transformed and encoded with C{cv2.imencode}
    ("decode+encode"). Recordings play at their own speed and start over at
    the end unless C{loop} is off.
    """

    description = "a camera device, video file or stream (RTSP, HTTP) via OpenCV"
    requires = {"cv2": "pip install opencv-python-headless"}  # noqa: RUF012 - read-only, read by the registry

    def __init__(
        self,
        *,
        source: str = "0",
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        quality: int = 80,
        loop: bool = True,
        rotate: int = 0,
        flip: str = "none",
    ) -> None:
        """
        @param source: a device number (C{0}), a device path
            (C{/dev/video2}), a video file, or a URL FFmpeg opens
            (C{rtsp://}, C{http://}).
        @param width: frame width, asked of a device; frames of any other
            width are resized (alone, it keeps the aspect ratio).
        @param height: frame height, likewise.
        @param fps: at most this many frames a second; asked of a device.
        @param quality: JPEG quality, 1 to 100, of frames encoded here.
        @param loop: whether a recording starts over at its end; if not, its
            last frame stays on show.
        @param rotate: clockwise rotation: 0, 90, 180 or 270.
        @param flip: mirror the picture, after rotation: C{none},
            C{horizontal}, C{vertical} or C{both}.

        @raise ValueError: for an option out of range.
        """
        if not source.strip():
            raise ValueError("source must not be empty")
        check_frame_options(width=width, height=height, fps=fps, quality=quality)
        if rotate not in ROTATIONS:
            raise ValueError(f"rotate must be 0, 90, 180 or 270, not {rotate}")
        if flip not in FLIPS:
            raise ValueError(
                f"flip must be none, horizontal, vertical or both, not {flip!r}"
            )
        self.source = parse_source(source)
        self.width = width
        self.height = height
        self.fps = fps
        self.quality = quality
        self.loop = loop
        self.rotate = rotate
        self.flip = flip
        # Updated by the capture thread, read by health_details().
        self._opened: _Opened | None = None
        self._path: str | None = None
        self._size: tuple[int, int] | None = None
        self._plan = Plan(None, transpose=False, flip=None)
        self._broken_frames = 0
        self._ended = False
        # Importing OpenCV takes over 100 ms: pay it at start, not while the
        # first viewer waits for the first frame.
        import cv2  # noqa: F401, PLC0415

    def problems(self) -> list[str]:
        """A video file that does not exist (see L{Source.problem})."""
        return [problem] if (problem := self.source.problem()) else []

    def health_details(self) -> dict[str, object]:
        """
        The source, the path frames take (C{"passthrough"} or
        C{"decode+encode"}; L{None} until a frame has come), the OpenCV
        backend, the source's frame size and rate, frames dropped as broken,
        and whether a recording has ended and shows its last frame.
        """
        opened = self._opened
        size = self._size
        if size is None and opened is not None:
            size = (opened.width, opened.height)
        return {
            "source": self.source.shown,
            "path": self._path,
            "backend": None if opened is None else opened.backend,
            "width": None if size is None else size[0],
            "height": None if size is None else size[1],
            "source_fps": None if opened is None else opened.source_fps,
            "broken_frames": self._broken_frames,
            "ended": self._ended,
        }

    def frames(self) -> Generator[Item]:
        """
        Open the source and yield its frames until closed.

        Compressed frames are asked for first; if C{BROKEN_LIMIT} in a row
        are not whole JPEGs the source is opened again for decoded frames. A
        recording is read again from the start at its end (or, with C{loop}
        off, its last frame is repeated every C{HOLD_INTERVAL}); a live
        source that stops raises, to be opened again by camserve's retry.

        @raise OSError: naming the source and the trouble, if it cannot be
            opened or a live source stops sending frames.
        """
        pacer = Pacer()
        limiter = None if self.fps is None else RateLimiter(self.fps)
        raw = True
        offset = 0.0
        last: Item | None = None
        capture: VideoCapture | None = None
        try:
            while True:
                capture, opened = self._open(raw=raw)
                outcome = yield from self._read(capture, opened, offset, pacer, limiter)
                capture.release()
                capture = None
                offset += outcome.duration
                last = outcome.last or last
                # A recording shorter than BROKEN_LIMIT whose compressed
                # frames are all broken is decoded instead, and one with no
                # frame that can be served at all fails: reading it again
                # would find nothing again, at once, for ever.
                unreadable = (
                    opened.finite and outcome.last is None and outcome.broken > 0
                )
                if outcome.end is _End.NOT_JPEG or (unreadable and opened.raw):
                    raw = False
                elif not opened.finite:
                    raise OSError(f"{self.source.described} stopped sending frames")
                elif outcome.grabbed == 0:
                    raise OSError(f"{self.source.described} has no frames to read")
                elif unreadable:
                    raise OSError(
                        f"{self.source.described} has no frame that can be read"
                    )
                elif not self.loop and last is not None:
                    yield from self._hold(last)
        finally:
            if capture is not None:
                capture.release()
            self._opened = self._path = self._size = None
            self._ended = False

    def _open(self, *, raw: bool) -> tuple[VideoCapture, _Opened]:
        """
        Open the source, asking for compressed frames if C{raw} and the
        source's codec is JPEG.

        @raise OSError: if OpenCV cannot open it, saying why where we can.
        """
        import cv2  # noqa: PLC0415

        source, target = self.source, self.source.target
        device = source.kind == "device"
        if device:
            capture = cv2.VideoCapture(target, _device_api())
        else:
            timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS]
            timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, _READ_TIMEOUT_MS]
            capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, timeouts)
        if not capture.isOpened():
            capture.release()
            raise OSError(_cannot_open(source))
        try:
            opened = self._configure(capture, raw=raw)
        except BaseException:
            capture.release()
            raise
        self._opened = opened
        self._ended = False
        return capture, opened

    def _configure(self, capture: VideoCapture, *, raw: bool) -> _Opened:
        """
        Ask an opened source for the size, rate and (if C{raw}) compressed
        frames wanted; what it will deliver.
        """
        import cv2  # noqa: PLC0415

        device = self.source.kind == "device"
        if device:
            # A USB camera sends large frames at full rate only as MJPEG.
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
            if self.width is not None:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height is not None:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps is not None:
                capture.set(cv2.CAP_PROP_FPS, self.fps)
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
        return _Opened(
            backend=capture.getBackendName(),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            source_fps=round(rate, 3) if math.isfinite(rate) and rate > 0 else None,
            raw=raw,
            # Live streams have no frame count; a video over HTTP has one.
            finite=self.source.kind == "file"
            or (not device and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0),
        )

    def _read(
        self,
        capture: VideoCapture,
        opened: _Opened,
        offset: float,
        pacer: Pacer,
        limiter: RateLimiter | None,
    ) -> Generator[Item, None, _Pass]:
        """
        Yield the opened source's frames until it has no more, or its
        compressed frames prove not to be JPEGs.

        @param offset: where this pass starts on the recording's timeline:
            a recording read again goes on from where the last pass ended.
        """
        import cv2  # noqa: PLC0415

        interval = 1 / (opened.source_fps or 30)
        timestamp = -interval
        grabbed = broken = 0
        last = None
        while capture.grab():
            captured_at = time.time()
            grabbed += 1
            if opened.finite:
                position = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
                timestamp = next_timestamp(position, timestamp, interval)
                moment = offset + timestamp
            else:
                moment = time.monotonic()
            if limiter is not None and not limiter.admit(moment):
                continue
            ok, buffer = capture.retrieve()
            jpeg = self._jpeg(buffer) if ok else None
            if jpeg is None:
                self._broken_frames += 1
                broken += 1
                if broken < BROKEN_LIMIT:
                    continue
                if opened.raw:
                    return _Pass(
                        _End.NOT_JPEG, grabbed, broken, timestamp + interval, last
                    )
                raise OSError(
                    f"{self.source.described} sent {BROKEN_LIMIT} frames in a row"
                    " that OpenCV could not decode"
                )
            broken = 0
            if opened.finite:
                pacer.wait(moment)
                captured_at = time.time()
            last = (jpeg, captured_at)
            yield last
        return _Pass(_End.ENDED, grabbed, broken, timestamp + interval, last)

    def _jpeg(self, buffer: MatLike) -> bytes | None:
        """
        The JPEG to serve for a retrieved frame: the source's own if it is a
        whole JPEG and needs no change, else the decoded frame transformed
        and encoded; L{None} for a frame that is broken.
        """
        import cv2  # noqa: PLC0415
        import numpy as np  # noqa: PLC0415

        if buffer.ndim == 3:  # noqa: PLR2004 - rows, columns, channels: decoded
            image = buffer
        else:
            jpeg = whole_jpeg(buffer.tobytes())
            if jpeg is None:
                return None
            size = jpeg_size(jpeg)
            if size is not None and self._plan_for(size).identity:
                self._path = "passthrough"
                return jpeg
            decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if decoded is None:
                return None
            image = decoded
        if image.size == 0:
            return None
        plan = self._plan_for((image.shape[1], image.shape[0]))
        self._path = "decode+encode"
        params = [cv2.IMWRITE_JPEG_QUALITY, self.quality]
        ok, encoded = cv2.imencode(".jpg", plan.apply(image), params)
        if not ok:
            raise OSError("OpenCV could not encode a frame as JPEG")
        return encoded.tobytes()

    def _plan_for(self, size: tuple[int, int]) -> Plan:
        """
        The plan for frames of C{size}, made again only when it changes.
        """
        if size != self._size:
            self._plan = make_plan(
                size,
                width=self.width,
                height=self.height,
                rotate=self.rotate,
                flip=self.flip,
            )
            self._size = size
        return self._plan

    def _hold(self, last: Item) -> Generator[Item, None, NoReturn]:
        """
        Keep a finished recording's last frame on show: repeat it (capture
        time and all) every C{HOLD_INTERVAL}, so that new viewers and
        snapshots get it at once and camserve can close the generator.
        """
        self._ended = True
        while True:
            time.sleep(HOLD_INTERVAL)
            yield last


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
