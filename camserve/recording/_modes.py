# -*- test-case-name: tests.test_recorder -*-
"""
How a camera records, and what its recording is doing.
"""

from __future__ import annotations

import enum

from attrs import frozen

from camserve._defaults import (
    MOTION_THRESHOLD,
    POST_ROLL,
    PRE_ROLL,
    SEGMENT_MINUTES,
)


class RecordingMode(enum.Enum):
    """
    When a camera records.
    """

    OFF = "off"
    """Never."""
    CONTINUOUS = "continuous"
    """All the time it is served, whether anyone watches or not."""
    ON_DEMAND = "on_demand"
    """From when it is asked to start until it is asked to stop."""
    MOTION = "motion"
    """While the picture moves, from its pre-roll to its post-roll."""


class RecordingState(enum.Enum):
    """
    What a camera's recording is doing.
    """

    OFF = "off"
    """Not recording: its mode is off, or it was not asked to record."""
    RECORDING = "recording"
    """Writing every frame the camera gives."""
    WAITING_FOR_MOTION = "waiting_for_motion"
    """Recording on motion, with none now: the frames of the pre-roll are
    kept in memory, none written."""
    FAILED = "failed"
    """Writing failed (a full disk, a folder that cannot be written): the
    recording is stopped, and tried again every few seconds."""
    WAITING_FOR_DISK = "waiting_for_disk"
    """The recordings' disk has less free space than the server's floor and
    nothing more may be deleted: the recording waits for space."""


@frozen
class RecordingSettings:
    """
    How one camera records.

    @ivar mode: when it records.
    @ivar segment_seconds: how long each segment file lasts.
    @ivar max_bytes: the most bytes its recordings may hold, the oldest
        deleted first; L{None} for no limit.
    @ivar max_age: the most seconds its recordings are kept; L{None} for no
        limit.
    @ivar motion_threshold: the activity that starts a motion recording.
    @ivar pre_roll: seconds recorded before motion starts.
    @ivar post_roll: seconds recorded after motion ends.
    @ivar motion_mask: the parts of the picture its activity leaves out:
        rectangles of left, top, width and height, in fractions of the
        picture.
    """

    mode: RecordingMode = RecordingMode.OFF
    segment_seconds: float = SEGMENT_MINUTES * 60
    max_bytes: int | None = None
    max_age: float | None = None
    motion_threshold: float = MOTION_THRESHOLD
    pre_roll: float = PRE_ROLL
    post_roll: float = POST_ROLL
    motion_mask: tuple[tuple[float, float, float, float], ...] = ()
