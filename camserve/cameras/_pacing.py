# -*- test-case-name: tests.test_opencv -*-
"""
Timing a recording's frames: playing it at its own speed, and capping a
source's frame rate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

_MAX_LAG = 0.25
"""Seconds a recording may fall behind its schedule before the schedule is
moved rather than caught up with a burst of frames."""

_MAX_STEP = 5.0
"""The longest step between two frames' timestamps taken as it is; a longer
one (a broken timestamp) counts as one nominal frame interval."""


class Pacer:
    """
    Holds each frame of a recording back until it is due, so that it plays
    at its own speed.

    Frames are due at their timestamps on a schedule fixed by the first one.
    A frame late by a moment is sent at once and the next ones catch up; a
    frame later than C{_MAX_LAG} moves the schedule instead, so that a slow
    patch is not followed by a burst.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._origin: float | None = None

    def wait(self, timestamp: float) -> None:
        """
        Return when the frame at C{timestamp} (seconds on the recording's
        timeline) is due.
        """
        now = self._clock()
        if self._origin is None:
            self._origin = now - timestamp
        delay = self._origin + timestamp - now
        if delay > 0:
            self._sleep(delay)
        elif delay < -_MAX_LAG:
            self._origin = now - timestamp


class RateLimiter:
    """
    Lets through at most C{fps} frames a second on average, however fast
    they come, and every frame of a source no faster than that.

    A frame is let through from half an interval before it is due, so that
    the jitter of a source at about C{fps} costs no frames; after a pause
    the schedule starts again from the next frame, with no burst.
    """

    def __init__(self, fps: float) -> None:
        self._interval = 1 / fps
        self._due: float | None = None

    def admit(self, moment: float) -> bool:
        """
        Whether to keep the frame at C{moment} (seconds, on any clock).
        """
        due = self._due
        if due is not None and moment < due - self._interval / 2:
            return False
        self._due = max(moment if due is None else due, moment) + self._interval
        return True


def next_timestamp(reported: float, previous: float, interval: float) -> float:
    """
    A frame's timestamp on a recording: C{reported}, unless it does not
    follow C{previous} by more than 0 and at most C{_MAX_STEP} seconds, when
    it is one nominal C{interval} after C{previous}.
    """
    step = reported - previous
    return reported if 0 < step <= _MAX_STEP else previous + interval
