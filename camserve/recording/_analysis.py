# -*- test-case-name: tests.test_motion -*-
"""
A recording's activity analysis, on a path of its own beside the frames
written: a few frames a second scored in a thread of the recording's, the
others passed over, and the scores gathered into one per second.
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial
from typing import TYPE_CHECKING

from twisted.logger import Logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.python.failure import Failure

    from camserve._frame import Frame
    from camserve.recording._activity import ActivityMeter
    from camserve.recording._writer_jobs import InThread

ANALYSIS_FPS = 5.0
"""The most frames a second, of capture time, analysed."""
SECONDS_KEPT = 64
"""The most seconds of activity waiting to be written, the oldest lost
first (while a motion recording waits for motion, say)."""


class Analysis:
    """
    Scores a camera's frames in its analysis thread, one at a time, at most
    C{fps} a second of capture time: a frame offered while one is being
    scored, or sooner than that after the last one scored, is passed over
    (counted), so that analysis never holds up the frames written.

    Each score is told to C{scored} and kept as its second's activity: the
    highest score of the frames analysed in that second. A second is done
    once a frame of a later second is scored; the seconds done wait, at
    most L{SECONDS_KEPT}, for L{take_seconds}.

    All methods are called in the reactor thread.

    @ivar analysed: frames scored.
    @ivar passed_over: frames offered and not scored.
    """

    _log = Logger()

    def __init__(
        self,
        meter: ActivityMeter,
        in_thread: InThread,
        scored: Callable[[float, float], None],
        *,
        fps: float = ANALYSIS_FPS,
    ) -> None:
        """
        @param meter: scores a frame, in the analysis thread.
        @param in_thread: runs a job in the analysis thread.
        @param scored: called with each frame's capture time and score.
        @param fps: the most frames analysed a second.
        """
        self._meter = meter
        self._in_thread = in_thread
        self._scored = scored
        self._interval = 1 / fps
        self._busy = False
        self._last = -math.inf
        self._second: float | None = None
        self._peak = 0.0
        self._seconds: deque[tuple[float, float]] = deque(maxlen=SECONDS_KEPT)
        self.analysed = 0
        self.passed_over = 0

    def offer(self, frame: Frame) -> None:
        """
        Score C{frame}, if the analysis is free and it is time to.
        """
        captured = frame.captured_at
        # A little early is on time: capture times are not exact.
        due = self._last + self._interval * 0.99
        if self._busy or not frame.jpeg or captured < due:
            self.passed_over += 1
            return
        self._busy = True
        self._last = captured
        running = self._in_thread(partial(self._meter.score, frame.jpeg))
        running.addCallbacks(
            partial(self._done, captured), partial(self._failed, captured)
        )

    def take_seconds(self) -> list[tuple[float, float]]:
        """
        The seconds done since the last call: each its start (Unix seconds)
        and its activity, in time order.
        """
        seconds = list(self._seconds)
        self._seconds.clear()
        return seconds

    def _done(self, captured: float, score: float | None) -> None:
        self._busy = False
        if score is None:
            return
        self.analysed += 1
        second = float(math.floor(captured))
        if self._second is not None and second != self._second:
            self._seconds.append((self._second, self._peak))
            self._peak = 0.0
        self._second = second
        self._peak = max(self._peak, score)
        self._scored(captured, score)

    def _failed(self, captured: float, failure: Failure) -> None:
        self._busy = False
        self._log.failure(
            "activity analysis failed at {captured}", failure, captured=captured
        )
