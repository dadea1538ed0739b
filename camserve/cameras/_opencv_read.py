# -*- test-case-name: tests.test_opencv -*-
"""
Reading an opened C{opencv} source: each frame grabbed, let through at the
rate asked, made the JPEG to serve (the source's own, or decoded, turned and
encoded again) and, from a recording, held back until it is due.
"""

from __future__ import annotations

import enum
import time
from typing import TYPE_CHECKING

from attrs import frozen

from camserve._jpeg import jpeg_size, whole_jpeg
from camserve.cameras._pacing import next_timestamp
from camserve.cameras._transform import Plan, make_plan

if TYPE_CHECKING:
    from collections.abc import Generator

    from cv2 import VideoCapture
    from cv2.typing import MatLike

    from camserve.cameras._opencv_open import Opened
    from camserve.cameras._pacing import Pacer, RateLimiter

Item = tuple[bytes, float]
"""A frame as C{frames()} yields it: JPEG bytes and their capture time."""

BROKEN_LIMIT = 5
"""Frames in a row that are not whole JPEGs (or do not decode) before the
driver gives up on them: it switches to decode+encode, or fails."""


class End(enum.Enum):
    """
    Why one pass over an opened source ended.
    """

    ENDED = "the source had no more frames"
    NOT_JPEG = "the compressed frames are not whole JPEGs"


@frozen
class Pass:
    """
    How a pass over an opened source went.

    @ivar grabbed: frames read, whether or not they were sent.
    @ivar broken: frames that could not be served, in a row at its end.
    @ivar duration: the pass's length on the recording's timeline.
    @ivar last: the last frame sent, if any.
    """

    end: End
    grabbed: int
    broken: int
    duration: float
    last: Item | None


class FrameReader:
    """
    Reads an C{opencv} camera's opened sources, one pass after another, as
    the JPEGs to serve.

    Where a frame is a whole JPEG that needs no resize, rotation or mirror,
    its own bytes are served ("passthrough"); otherwise it is decoded,
    transformed and encoded with C{cv2.imencode} ("decode+encode").

    Used in the capture thread; its attributes are read by the camera's
    health from the reactor thread.

    @ivar path: how the last frame was made a JPEG: C{"passthrough"} or
        C{"decode+encode"}; L{None} before a frame.
    @ivar size: the last frame's width and height; L{None} before a frame.
    @ivar broken_frames: frames dropped as broken since this was made.
    """

    def __init__(
        self,
        described: str,
        *,
        width: int | None,
        height: int | None,
        quality: int,
        rotate: int,
        flip: str,
    ) -> None:
        """
        @param described: the source with what it is, for messages.
        @param width: the width frames are made, if asked.
        @param height: the height frames are made, if asked.
        @param quality: JPEG quality, 1 to 100, of frames encoded here.
        @param rotate: clockwise rotation: 0, 90, 180 or 270.
        @param flip: mirror the picture, after rotation.
        """
        self._described = described
        self._width = width
        self._height = height
        self._quality = quality
        self._rotate = rotate
        self._flip = flip
        self._plan = Plan(None, transpose=False, flip=None)
        self.path: str | None = None
        self.size: tuple[int, int] | None = None
        self.broken_frames = 0

    def forget(self) -> None:
        """
        The camera closed: no frame has come since.
        """
        self.path = self.size = None

    def read(
        self,
        capture: VideoCapture,
        opened: Opened,
        offset: float,
        pacer: Pacer,
        limiter: RateLimiter | None,
    ) -> Generator[Item, None, Pass]:
        """
        Yield the opened source's frames until it has no more, or its
        compressed frames prove not to be JPEGs.

        @param offset: where this pass starts on the recording's timeline:
            a recording read again goes on from where the last pass ended.
        @param pacer: holds a recording's frames back until they are due.
        @param limiter: lets through the rate asked, if one was.

        @raise OSError: if C{BROKEN_LIMIT} decoded frames in a row are
            broken.
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
                self.broken_frames += 1
                broken += 1
                if broken < BROKEN_LIMIT:
                    continue
                if opened.raw:
                    return Pass(
                        End.NOT_JPEG, grabbed, broken, timestamp + interval, last
                    )
                raise OSError(
                    f"{self._described} sent {BROKEN_LIMIT} frames in a row"
                    " that OpenCV could not decode"
                )
            broken = 0
            if opened.finite:
                pacer.wait(moment)
                captured_at = time.time()
            last = (jpeg, captured_at)
            yield last
        return Pass(End.ENDED, grabbed, broken, timestamp + interval, last)

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
                self.path = "passthrough"
                return jpeg
            decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if decoded is None:
                return None
            image = decoded
        if image.size == 0:
            return None
        plan = self._plan_for((image.shape[1], image.shape[0]))
        self.path = "decode+encode"
        params = [cv2.IMWRITE_JPEG_QUALITY, self._quality]
        ok, encoded = cv2.imencode(".jpg", plan.apply(image), params)
        if not ok:
            raise OSError("OpenCV could not encode a frame as JPEG")
        return encoded.tobytes()

    def _plan_for(self, size: tuple[int, int]) -> Plan:
        """
        The plan for frames of C{size}, made again only when it changes.
        """
        if size != self.size:
            self._plan = make_plan(
                size,
                width=self._width,
                height=self._height,
                rotate=self._rotate,
                flip=self._flip,
            )
            self.size = size
        return self._plan
