# -*- test-case-name: tests.test_opencv -*-
"""
The opencv camera: a camera device, a video file or a network stream read
through OpenCV's C{VideoCapture}, with Motion JPEG passed through untouched
wherever the source delivers it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NoReturn

from zope.interface import implementer

from camserve.cameras._opencv_open import open_source
from camserve.cameras._opencv_read import BROKEN_LIMIT, End, FrameReader
from camserve.cameras._opencv_source import parse_source
from camserve.cameras._options import check_frame_options
from camserve.cameras._pacing import Pacer, RateLimiter
from camserve.cameras._transform import FLIPS, ROTATIONS
from camserve.interfaces import ICamera, ICheckable, IHealthDetails

if TYPE_CHECKING:
    from collections.abc import Generator

    from cv2 import VideoCapture

    from camserve.cameras._opencv_open import Opened
    from camserve.cameras._opencv_read import Item

__all__ = ["BROKEN_LIMIT", "HOLD_INTERVAL", "OpenCVCamera"]

HOLD_INTERVAL = 1.0
"""Seconds between repeats of a finished file's last frame (C{loop} off)."""


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
        self._opened: Opened | None = None
        self._ended = False
        self._reader = FrameReader(
            self.source.described,
            width=width,
            height=height,
            quality=quality,
            rotate=rotate,
            flip=flip,
        )
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
        size = self._reader.size
        if size is None and opened is not None:
            size = (opened.width, opened.height)
        return {
            "source": self.source.shown,
            "path": self._reader.path,
            "backend": None if opened is None else opened.backend,
            "width": None if size is None else size[0],
            "height": None if size is None else size[1],
            "source_fps": None if opened is None else opened.source_fps,
            "broken_frames": self._reader.broken_frames,
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
                outcome = yield from self._reader.read(
                    capture, opened, offset, pacer, limiter
                )
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
                if outcome.end is End.NOT_JPEG or (unreadable and opened.raw):
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
            self._opened = None
            self._ended = False
            self._reader.forget()

    def _open(self, *, raw: bool) -> tuple[VideoCapture, Opened]:
        """
        Open the source, asking for compressed frames if C{raw} and the
        source's codec is JPEG.

        @raise OSError: if OpenCV cannot open it, saying why where we can.
        """
        capture, opened = open_source(
            self.source, width=self.width, height=self.height, fps=self.fps, raw=raw
        )
        self._opened = opened
        self._ended = False
        return capture, opened

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
