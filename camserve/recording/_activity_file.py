# -*- test-case-name: tests.test_motion -*-
"""
A segment's activity file (C{.act}) being written, in its camera's writer
thread: one record a second, as C{docs/recording-format.md} says.
"""

from __future__ import annotations

import math
import os
import struct
from contextlib import suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

ACTIVITY_RECORD = struct.Struct("<df")
"""One second's record in a C{.act} file: its start (Unix seconds) and its
activity, from 0 to 1."""

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class ActivityFile:
    """
    The C{.act} file of a segment: made with its first record, so that a
    segment with no activity measured has none; seconds that start before
    the segment's first second, or not after the last one written, are
    left out.
    """

    def __init__(
        self, path: Path, first_second: float, write: Callable[[int, bytes], None]
    ) -> None:
        """
        @param path: the file.
        @param first_second: the start of the second of the segment's first
            frame.
        @param write: writes all of some bytes to a file descriptor.
        """
        self.path = path
        self._fd: int | None = None
        self._last = math.floor(first_second) - 1.0
        self._write = write
        self._synced = True

    def append(self, seconds: Iterable[tuple[float, float]]) -> int:
        """
        Append the records of C{seconds} (each its start and activity) that
        belong here; the bytes written.

        @raise OSError: if the file cannot be made or written.
        """
        records = []
        for start, score in seconds:
            if start > self._last:
                self._last = start
                records.append(ACTIVITY_RECORD.pack(start, min(1.0, max(0.0, score))))
        data = b"".join(records)
        if not data:
            return 0
        if self._fd is None:
            self._fd = os.open(self.path, _CREATE, 0o666)
        self._write(self._fd, data)
        self._synced = False
        return len(data)

    def sync(self) -> None:
        """
        Flush the file to the disk.
        """
        if self._fd is not None and not self._synced:
            os.fsync(self._fd)
            self._synced = True

    def close(self, *, delete: bool = False) -> None:
        """
        Close the file, and delete it if C{delete}.
        """
        if self._fd is not None:
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None
            if delete:
                with suppress(OSError):
                    self.path.unlink()
