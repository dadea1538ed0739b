# -*- test-case-name: tests.test_recording_layout -*-
"""
Where a camera's recordings are and what their files are called, as
C{docs/recording-format.md} fixes it::

    <recordings_dir>/<camera>/<YYYY-MM-DD>/<YYYYMMDDTHHMMSS.mmm>Z.mjpeg
                                           <YYYYMMDDTHHMMSS.mmm>Z.idx
                                           <YYYYMMDDTHHMMSS.mmm>Z.act

and the index's record.
"""

from __future__ import annotations

import calendar
import re
import struct
import time
from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from pathlib import Path

INDEX_RECORD = struct.Struct("<dQII")
"""One frame's record in a C{.idx} file: its capture time (Unix seconds),
the offset of its JPEG's first byte in the C{.mjpeg} file, the JPEG's
length and its CRC-32."""

SEGMENT = ".mjpeg"
"""The suffix of a segment's frames."""
INDEX = ".idx"
"""The suffix of a segment's index."""
ACTIVITY = ".act"
"""The suffix of a segment's activity, second by second."""
SUFFIXES = (SEGMENT, INDEX, ACTIVITY)
"""Every file a segment may have."""

_STEM = re.compile(r"(\d{8}T\d{6})\.(\d{3})Z")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@frozen
class SegmentName:
    """
    The files of one segment of a camera's recording.

    @ivar folder: the folder of the day it starts on (UTC).
    @ivar stem: the file names without their suffix: the UTC time of its
        first frame, to the millisecond.
    @ivar started_at: that time, Unix seconds.
    """

    folder: Path
    stem: str
    started_at: float

    @property
    def base(self) -> Path:
        """
        The segment's path without a suffix.
        """
        return self.folder / self.stem

    def path(self, suffix: str) -> Path:
        """
        The segment's file of C{suffix} (L{SEGMENT}, L{INDEX}, L{ACTIVITY}).
        """
        return self.folder / (self.stem + suffix)


def camera_folder(root: Path, camera: str) -> Path:
    """
    Where camera C{camera}'s recordings are, under C{root}: its name is one
    safe path segment (letters, digits, C{-} and C{_}).
    """
    return root / camera


def segment_named(root: Path, camera: str, milliseconds: int) -> SegmentName:
    """
    The segment of C{camera} whose first frame was captured at
    C{milliseconds} (Unix time, whole milliseconds).
    """
    seconds, fraction = divmod(milliseconds, 1000)
    moment = time.gmtime(seconds)
    stem = time.strftime("%Y%m%dT%H%M%S", moment) + f".{fraction:03d}Z"
    folder = camera_folder(root, camera) / time.strftime("%Y-%m-%d", moment)
    return SegmentName(folder, stem, milliseconds / 1000)


def milliseconds_of(captured_at: float) -> int:
    """
    A capture time in whole milliseconds, rounded down, as a segment is
    named: the name is never later than its first frame.
    """
    return int(captured_at * 1000)


def is_day_folder(name: str) -> bool:
    """
    Whether C{name} is the name of a day's folder of a camera's recording.
    """
    return _DAY.fullmatch(name) is not None


def started_at(stem: str) -> float | None:
    """
    The start of the segment named C{stem} (a file name without its
    suffix), Unix seconds; L{None} if it is no segment's name.
    """
    match = _STEM.fullmatch(stem)
    if match is None:
        return None
    try:
        moment = time.strptime(match[1], "%Y%m%dT%H%M%S")
    except ValueError:
        return None
    return calendar.timegm(moment) + int(match[2]) / 1000
