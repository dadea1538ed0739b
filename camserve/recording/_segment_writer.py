# -*- test-case-name: tests.test_segment_writer -*-
"""
One camera's segment files written, in its writer thread, as
C{docs/recording-format.md} says: each frame's multipart part appended to
the segment, then its record to the index; both files flushed to the disk
when asked (about once a second), and when the segment ends.
"""

from __future__ import annotations

import errno
import os
import zlib
from contextlib import suppress
from typing import TYPE_CHECKING

from attrs import frozen

from camserve._multipart import PREAMBLE
from camserve.recording._activity_file import ActivityFile
from camserve.recording._layout import (
    ACTIVITY,
    INDEX,
    INDEX_RECORD,
    SEGMENT,
    milliseconds_of,
    segment_named,
)

if TYPE_CHECKING:
    from collections.abc import Container, Sequence
    from pathlib import Path

    from camserve._frame import Frame
    from camserve.recording._layout import SegmentName
    from camserve.recording._open_segments import OpenSegments

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_NAMES_TRIED = 1000
"""How many names, a millisecond apart, a new segment tries when its own
is taken (a clock set back to a time already recorded)."""


def write_all(fd: int, data: bytes) -> None:
    """
    Write all of C{data} to the file C{fd}: the one place a recording's
    bytes are written. (Tests make it fail as a full disk does.)
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@frozen
class Written:
    """
    What one job of a writer did.

    @ivar frames: the frames written.
    @ivar size: the bytes written, to the segment and its index.
    @ivar error: why writing stopped, in one line naming the file or
        folder; L{None} if all went well.
    """

    frames: int = 0
    size: int = 0
    error: str | None = None


class _Segment:
    """
    A segment being written: its name and open files.
    """

    def __init__(self, name: SegmentName, segment: int, index: int) -> None:
        self.name = name
        self.segment = segment
        self.index = index
        self.size = 0
        self.frames = 0
        self.first: float | None = None
        self.last = 0.0
        self.activity: ActivityFile | None = None
        self.synced = True
        # The folders whose entries for new files and folders must reach
        # the disk with the segment's first flush.
        self.folders: list[Path] = []


class SegmentWriter:
    """
    Writes one camera's frames into segments under a recordings folder:
    a new segment at the first frame, after C{segment_seconds} of capture
    time, when asked, and when capture times go back (a clock set back), so
    that within a segment they never do.

    Runs in the camera's writer thread, one job at a time. A job that fails
    (the disk full, a folder that cannot be written) abandons the segment,
    which then holds every frame written before, and says why; the next
    job starts a new segment. A segment that ends holding no frame is
    deleted, so that a disk that fails at once is not left littered with
    empty files.
    """

    def __init__(self, root: Path, camera: str, open_segments: OpenSegments) -> None:
        """
        @param root: the recordings folder; C{<root>/<camera>} is made if
            need be.
        @param open_segments: where the segment being written is registered,
            so that retention leaves it alone.
        """
        self._root = root
        self._camera = camera
        self._open_segments = open_segments
        self._segment: _Segment | None = None
        self._where: Path = root

    @property
    def segment(self) -> SegmentName | None:
        """
        The segment being written; L{None} between segments.
        """
        return None if self._segment is None else self._segment.name

    def write(
        self,
        frames: Sequence[Frame],
        *,
        segment_seconds: float,
        splits: Container[int] = (),
        sync: bool = False,
        activity: Sequence[tuple[float, float]] = (),
    ) -> Written:
        """
        Append C{frames} to the segment, in order, and flush the files to
        the disk if C{sync}; the seconds of C{activity} go to the activity
        file of the segment open before the frames (the analysis lags
        behind them) and of the one open after, each keeping those of its
        own seconds.

        @param segment_seconds: how long a segment lasts, in capture time.
        @param splits: the positions in C{frames} of those that start a new
            segment (the first after the camera was made again, say).
        @return: what was written; a frame of no bytes is not.
        """
        count = size = 0
        split = False
        try:
            if activity and self._segment is not None:
                size += self._activity(self._segment).append(activity)
            for position, frame in enumerate(frames):
                split = split or position in splits
                if not frame.jpeg:
                    # No picture: its record would read as the end of the
                    # index.
                    continue
                size += self._write(frame, segment_seconds, split)
                split = False
                count += 1
            if activity and self._segment is not None:
                size += self._activity(self._segment).append(activity)
            if sync:
                self._sync()
        except OSError as error:
            return Written(count, size, self._abandon(error))
        return Written(count, size)

    def sync(self) -> Written:
        """
        Flush the segment's files to the disk.
        """
        try:
            self._sync()
        except OSError as error:
            return Written(error=self._abandon(error))
        return Written()

    def end_segment(self) -> Written:
        """
        Flush and close the segment's files; the next frame starts a new
        segment.
        """
        segment = self._segment
        if segment is None:
            return Written()
        try:
            self._sync()
        except OSError as error:
            return Written(error=self._abandon(error))
        self._close(segment)
        return Written()

    def _write(self, frame: Frame, segment_seconds: float, split: bool) -> int:
        """
        Append C{frame}'s part and its index record; the bytes written.
        """
        segment = self._segment
        captured = frame.captured_at
        if segment is not None and (
            split
            or captured < segment.last
            or (
                segment.first is not None
                and captured >= segment.first + segment_seconds
            )
        ):
            self._sync()
            self._close(segment)
            segment = None
        if segment is None:
            segment = self._open(captured)
        part = frame.part
        jpeg = frame.jpeg
        # The part's headers end at its first blank line; its JPEG follows.
        offset = segment.size + part.index(b"\r\n\r\n") + 4
        record = INDEX_RECORD.pack(captured, offset, len(jpeg), zlib.crc32(jpeg))
        self._where = segment.name.path(SEGMENT)
        write_all(segment.segment, part)
        segment.size += len(part)
        self._where = segment.name.path(INDEX)
        write_all(segment.index, record)
        segment.frames += 1
        segment.synced = False
        if segment.first is None:
            segment.first = captured
        segment.last = captured
        return len(part) + len(record)

    def _activity(self, segment: _Segment) -> ActivityFile:
        """
        C{segment}'s activity file.
        """
        if segment.activity is None:
            assert segment.first is not None  # noqa: S101 - it has a frame
            path = segment.name.path(ACTIVITY)
            segment.activity = ActivityFile(path, segment.first, write_all)
        self._where = segment.activity.path
        return segment.activity

    def _open(self, captured_at: float) -> _Segment:
        """
        Start the segment of a frame captured at C{captured_at}.
        """
        milliseconds = milliseconds_of(captured_at)
        for _ in range(_NAMES_TRIED):
            name = segment_named(self._root, self._camera, milliseconds)
            self._open_segments.add(name.base)
            try:
                opened = self._create(name)
            except FileExistsError:
                self._open_segments.remove(name.base)
                milliseconds += 1
                continue
            except OSError:
                self._open_segments.remove(name.base)
                raise
            self._segment = opened
            return opened
        raise OSError(
            errno.EEXIST, "every name near this time is taken", str(name.base)
        )

    def _create(self, name: SegmentName) -> _Segment:
        """
        Make the folders and files of segment C{name}, its preamble written.

        @raise FileExistsError: if the segment's name is taken.
        """
        made = self._folders(name.folder)
        self._where = name.path(SEGMENT)
        segment_fd = os.open(name.path(SEGMENT), _CREATE, 0o666)
        try:
            self._where = name.path(INDEX)
            index_fd = os.open(name.path(INDEX), _CREATE, 0o666)
        except OSError:
            os.close(segment_fd)
            _delete(name.path(SEGMENT))
            raise
        segment = _Segment(name, segment_fd, index_fd)
        segment.folders = [*(folder.parent for folder in made), name.folder]
        self._segment = segment
        self._where = name.path(SEGMENT)
        write_all(segment_fd, PREAMBLE)
        segment.size = len(PREAMBLE)
        return segment

    def _folders(self, folder: Path) -> list[Path]:
        """
        Make C{folder} (a day's, in a camera's, in the root) and those it is
        in, if need be; those made.
        """
        made = []
        for each in (*reversed(folder.parents[:2]), folder):
            self._where = each
            try:
                each.mkdir(parents=each == self._root)
            except FileExistsError:
                if not each.is_dir():
                    raise NotADirectoryError(
                        errno.ENOTDIR, "not a folder", str(each)
                    ) from None
            else:
                made.append(each)
        return made

    def _sync(self) -> None:
        """
        Flush the segment's files, then the folders its files are new in,
        to the disk.
        """
        segment = self._segment
        if segment is None or segment.synced:
            return
        self._where = segment.name.path(SEGMENT)
        os.fsync(segment.segment)
        self._where = segment.name.path(INDEX)
        os.fsync(segment.index)
        if segment.activity is not None:
            self._where = segment.activity.path
            segment.activity.sync()
        for folder in segment.folders:
            self._where = folder
            _sync_folder(folder)
        segment.folders = []
        segment.synced = True

    def _close(self, segment: _Segment) -> None:
        """
        Close C{segment}'s files, deleting them if it holds no frame.
        """
        self._segment = None
        for fd in (segment.segment, segment.index):
            # A file that fails to close leaves nothing more to do with it.
            with suppress(OSError):
                os.close(fd)
        if segment.activity is not None:
            segment.activity.close(delete=not segment.frames)
        if not segment.frames:
            for suffix in (SEGMENT, INDEX):
                _delete(segment.name.path(suffix))
        self._open_segments.remove(segment.name.base)

    def _abandon(self, error: OSError) -> str:
        """
        Writing failed with C{error}: close the segment as it is; why, in
        one line.
        """
        where = error.filename if error.filename is not None else self._where
        segment = self._segment
        if segment is not None:
            self._close(segment)
        return f"cannot write {where}: {error.strerror or error}"


def _sync_folder(folder: Path) -> None:
    """
    Flush C{folder}'s entries to the disk.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _delete(path: Path) -> None:
    """
    Delete the file at C{path}, if it can be.
    """
    # What cannot be deleted is at worst a file of no frame, which readers
    # skip.
    with suppress(OSError):
        path.unlink()
