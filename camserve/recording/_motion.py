# -*- test-case-name: tests.test_motion -*-
"""
Recording on motion: which of a camera's frames are written, given their
activity scores; the frames of the last few seconds kept in a bounded ring
meanwhile, written first when motion starts.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from attrs import frozen

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from camserve._frame import Frame
    from camserve.recording._modes import RecordingSettings

RING_FRAMES = 900
"""The most frames the pre-roll ring holds (30 s at 30 fps)."""
RING_BYTES = 64 * 1024 * 1024
"""The most JPEG bytes the pre-roll ring holds."""
LATE = 1.0
"""Seconds the ring keeps beyond the pre-roll, for frames scored late."""


@frozen
class MotionEvent:
    """
    A stretch of motion.

    @ivar start: the capture time of the first frame whose score passed
        the threshold (Unix seconds).
    @ivar end: the capture time of the last such frame; L{None} while the
        motion goes on.
    @ivar peak: the highest score in it.
    """

    start: float
    end: float | None
    peak: float

    def as_json(self) -> dict[str, Any]:
        """
        The event, JSON-ready: C{start}, C{end} and C{peak}.
        """
        return {"start": self.start, "end": self.end, "peak": self.peak}


class MotionGate:
    """
    Lets a camera's frames through to its recording from when a frame's
    activity passes C{motion_threshold} until C{post_roll} seconds of
    capture time after the last frame that passed it; before, the frames
    of the last C{pre_roll} seconds, kept in a ring bounded by frames and
    by bytes, go first.

    All methods are called in the reactor thread.

    @ivar event: the motion going on; L{None} while there is none.
    """

    def __init__(
        self,
        settings: Callable[[], RecordingSettings],
        ended: Callable[[MotionEvent], None],
        *,
        ring_frames: int = RING_FRAMES,
        ring_bytes: int = RING_BYTES,
    ) -> None:
        """
        @param settings: the recording's settings now: its threshold and
            rolls.
        @param ended: called with each motion event once it ends.
        @param ring_frames: the most frames kept for the pre-roll.
        @param ring_bytes: the most JPEG bytes kept for the pre-roll.
        """
        self._settings = settings
        self._ended = ended
        self._ring_frames = ring_frames
        self._ring_bytes = ring_bytes
        self._ring: deque[Frame] = deque()
        self._bytes = 0
        self.event: MotionEvent | None = None

    @property
    def open(self) -> bool:
        """
        Whether frames go through now: motion goes on, or its post-roll.
        """
        return self.event is not None

    def scored(self, captured: float, score: float) -> None:
        """
        The frame captured at C{captured} scored C{score}.
        """
        if score < self._settings().motion_threshold:
            return
        event = self.event
        if event is None:
            self.event = MotionEvent(captured, captured, score)
        else:
            end = captured if event.end is None else max(event.end, captured)
            self.event = MotionEvent(event.start, end, max(event.peak, score))

    def admit(self, frames: Sequence[Frame]) -> list[Frame]:
        """
        Of C{frames} (and those kept before), those to write now, in order;
        the others are kept for the pre-roll, or forgotten.
        """
        settings = self._settings()
        for frame in frames:
            self._ring.append(frame)
            self._bytes += len(frame.jpeg)
        passed: list[Frame] = []
        event = self.event
        if event is not None:
            first = event.start - settings.pre_roll
            while self._ring:
                frame = self._ring[0]
                if event.end is not None and (
                    frame.captured_at > event.end + settings.post_roll
                ):
                    self._ended(MotionEvent(event.start, event.end, event.peak))
                    self.event = None
                    break
                self._forget()
                if frame.captured_at >= first:
                    passed.append(frame)
        self._trim(settings.pre_roll)
        return passed

    def finish(self) -> None:
        """
        The recording ends: the motion going on, if any, ends with the last
        frame that passed the threshold.
        """
        event, self.event = self.event, None
        if event is not None:
            self._ended(event)
        self._ring.clear()
        self._bytes = 0

    def current(self) -> MotionEvent | None:
        """
        The motion going on, as an event with no end; L{None} if none.
        """
        event = self.event
        return None if event is None else MotionEvent(event.start, None, event.peak)

    def _trim(self, pre_roll: float) -> None:
        """
        Keep in the ring no more than its bounds, and no frame older than
        the pre-roll (and a little more) before the newest.
        """
        ring = self._ring
        if not ring:
            return
        oldest = ring[-1].captured_at - pre_roll - LATE
        while ring and (
            len(ring) > self._ring_frames
            or self._bytes > self._ring_bytes
            or ring[0].captured_at < oldest
        ):
            self._forget()

    def _forget(self) -> None:
        self._bytes -= len(self._ring.popleft().jpeg)
