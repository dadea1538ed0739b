# -*- test-case-name: tests.test_motion -*-
"""
What a recorder does with its camera's activity: every frame it takes
offered to the analysis, and, recording on motion, only the frames of
motion (with their pre- and post-roll) let through to the disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camserve.recording._activity import ActivityMeter
from camserve.recording._analysis import Analysis
from camserve.recording._modes import RecordingMode
from camserve.recording._motion import MotionGate

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from camserve._frame import Frame
    from camserve.recording._modes import RecordingSettings
    from camserve.recording._motion import MotionEvent
    from camserve.recording._writer_jobs import InThread


class ActivityWatch:
    """
    A recorder's activity: its analysis and, recording on motion, its gate.

    All methods are called in the reactor thread.

    @ivar analysis: the frames' analysis.
    @ivar gate: which frames are written, recording on motion.
    """

    def __init__(
        self,
        settings: Callable[[], RecordingSettings],
        in_thread: InThread,
        ended: Callable[[MotionEvent], None],
        *,
        meter: ActivityMeter | None = None,
    ) -> None:
        """
        @param settings: the recording's settings now.
        @param in_thread: runs the analysis's jobs, in a thread of its own.
        @param ended: called with each motion event once it ends.
        @param meter: scores the frames; by default, one with the
            settings' mask.
        """
        self._settings = settings
        if meter is None:
            meter = ActivityMeter(settings().motion_mask)
        self.gate = MotionGate(settings, ended)
        self.analysis = Analysis(meter, in_thread, self._scored)

    @property
    def on_motion(self) -> bool:
        """
        Whether the recording is on motion.
        """
        return self._settings().mode is RecordingMode.MOTION

    @property
    def resting(self) -> bool:
        """
        Whether no frame is written now: the recording waits for motion.
        """
        return self.on_motion and not self.gate.open

    def take(
        self, frames: Sequence[Frame], splits: set[int]
    ) -> tuple[list[Frame], set[int]]:
        """
        Offer C{frames} to the analysis; those of them (and of those kept
        before) to write now, and the positions among those of the frames
        of C{splits} (positions in C{frames}) that start a new segment.
        """
        for frame in frames:
            self.analysis.offer(frame)
        if not self.on_motion:
            return list(frames), splits
        splitting = {id(frames[position]) for position in splits}
        passed = self.gate.admit(frames)
        moved = {at for at, frame in enumerate(passed) if id(frame) in splitting}
        return passed, moved

    def finish(self) -> None:
        """
        The recording ends: so does the motion going on, and the frames
        kept for the pre-roll are let go.
        """
        self.gate.finish()

    def current(self) -> MotionEvent | None:
        """
        The motion going on, with no end yet; L{None} if none.
        """
        return self.gate.current() if self.on_motion else None

    def _scored(self, captured: float, score: float) -> None:
        if self.on_motion:
            self.gate.scored(captured, score)
