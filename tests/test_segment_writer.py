"""
Tests for L{camserve.recording._segment_writer}: one camera's segments
written to real files, as C{docs/recording-format.md} says, and what a
disk that fails leaves.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from recording_files import RECORD, check_whole, read_segment, segments

import camserve.recording._segment_writer
from camserve import Frame
from camserve.recording._open_segments import OpenSegments
from camserve.recording._segment_writer import SegmentWriter, Written
from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from collections.abc import Iterator

START = 1_700_000_000.25
"""A capture time: 2023-11-14T22:13:20.250Z."""
FIVE_MINUTES = 300.0


def frame(number: int, captured_at: float) -> Frame:
    return Frame(make_jpeg(number), captured_at, number, 0.0, "porch")


def frames(count: int, start: float = START, fps: float = 10) -> list[Frame]:
    return [frame(number, start + number / fps) for number in range(count)]


@pytest.fixture
def writer(tmp_path: Path) -> SegmentWriter:
    return SegmentWriter(tmp_path / "recordings", "porch", OpenSegments())


def test_frames_are_written_as_the_spec_says(
    tmp_path: Path, writer: SegmentWriter
) -> None:
    """
    A segment is named for its first frame's UTC time, to the
    millisecond, in the folder of its day; it holds the preamble and each
    frame's multipart part, its index one record per frame (capture time,
    the JPEG's offset and length, its CRC-32), and nothing else.
    """
    written = frames(5)
    assert writer.write(written, segment_seconds=FIVE_MINUTES, sync=True) == Written(
        5, sum(len(each.part) + RECORD.size for each in written)
    )
    assert writer.end_segment() == Written()
    (segment,) = segments(tmp_path / "recordings", "porch")
    assert segment.relative_to(tmp_path) == (
        tmp_path / "recordings/porch/2023-11-14/20231114T221320.250Z.mjpeg"
    ).relative_to(tmp_path)
    assert segment.read_bytes() == b"--frame\r\n" + b"".join(
        each.part for each in written
    )
    assert [(each.captured_at, each.jpeg) for each in check_whole(segment)] == [
        (each.captured_at, each.jpeg) for each in written
    ]
    assert sorted(path.name for path in segment.parent.iterdir()) == [
        "20231114T221320.250Z.idx",
        "20231114T221320.250Z.mjpeg",
    ]


def test_a_segment_ends_after_its_length_of_capture_time(
    tmp_path: Path, writer: SegmentWriter
) -> None:
    """
    The first frame captured C{segment_seconds} or more after a segment's
    first starts the next segment, named for it; so does one captured
    before the frame written last (a clock set back), so that times never
    go back within a segment; and a frame asked to.
    """
    first = frames(3, fps=1)  # START, +1, +2
    writer.write(first, segment_seconds=2.5)
    later = [frame(3, START + 2.5), frame(4, START + 3)]
    writer.write(later, segment_seconds=2.5)
    back = [frame(5, START + 2.9), frame(6, START + 3.1), frame(7, START + 3.2)]
    writer.write(back, segment_seconds=2.5, splits={2})
    writer.end_segment()
    written = segments(tmp_path / "recordings", "porch")
    assert [each.stem for each in written] == [
        "20231114T221320.250Z",
        "20231114T221322.750Z",
        "20231114T221323.150Z",
        "20231114T221323.450Z",
    ]
    assert [[each.captured_at for each in check_whole(one)] for one in written] == [
        [START, START + 1, START + 2],
        [START + 2.5, START + 3],
        [START + 2.9, START + 3.1],
        [START + 3.2],
    ]


def test_an_empty_frame_is_not_written(tmp_path: Path, writer: SegmentWriter) -> None:
    """
    A frame of no bytes is no picture, and not written (its record would
    read as the end of the index); a new segment it was to start starts
    with the next frame.
    """
    empty = Frame(b"", START + 0.1, 2, 0.0, "porch")
    written = [frame(1, START), empty, frame(3, START + 0.2)]
    assert writer.write(written, segment_seconds=FIVE_MINUTES, splits={1}).frames == 2
    writer.end_segment()
    first, second = segments(tmp_path / "recordings", "porch")
    assert [each.jpeg for each in check_whole(first)] == [make_jpeg(1)]
    assert [each.jpeg for each in check_whole(second)] == [make_jpeg(3)]


def test_a_taken_name_gives_the_next_millisecond(
    tmp_path: Path, writer: SegmentWriter
) -> None:
    """
    A segment whose name is taken (the clock set back to a time recorded
    already) is named a millisecond later; what is there is kept.
    """
    writer.write(frames(1), segment_seconds=FIVE_MINUTES)
    writer.end_segment()
    again = SegmentWriter(tmp_path / "recordings", "porch", OpenSegments())
    again.write([frame(9, START)], segment_seconds=FIVE_MINUTES)
    again.end_segment()
    first, second = segments(tmp_path / "recordings", "porch")
    assert (first.stem, second.stem) == ("20231114T221320.250Z", "20231114T221320.251Z")
    assert check_whole(first)[0].jpeg == make_jpeg(0)
    assert check_whole(second)[0].jpeg == make_jpeg(9)


def test_the_segment_being_written_is_open(tmp_path: Path) -> None:
    """
    The segment being written is registered as open from before its files
    are made until they are closed.
    """
    opened = OpenSegments()
    writer = SegmentWriter(tmp_path, "porch", opened)
    writer.write(frames(1), segment_seconds=FIVE_MINUTES)
    segment = writer.segment
    assert segment is not None
    assert segment.base in opened
    writer.end_segment()
    assert segment.base not in opened
    assert writer.segment is None


def test_every_frame_written_is_on_the_disk_without_a_close(
    tmp_path: Path, writer: SegmentWriter
) -> None:
    """
    What a process killed at once leaves: each frame written is in both
    files as it returns, nothing buffered in the process.
    """
    written = frames(3)
    writer.write(written, segment_seconds=FIVE_MINUTES)
    (segment,) = segments(tmp_path / "recordings", "porch")
    assert [each.jpeg for each in check_whole(segment)] == [
        each.jpeg for each in written
    ]


def test_a_flush_reaches_the_disk(
    tmp_path: Path, writer: SegmentWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Flushing calls C{fsync} on the segment, then its index, then (the first
    time) the folders made for it and the day's folder holding its files;
    a segment already flushed is not flushed again until written to.
    """
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    writer.write(frames(2), segment_seconds=FIVE_MINUTES, sync=True)
    base = str(tmp_path / "recordings/porch/2023-11-14/20231114T221320.250Z")
    day = str(tmp_path / "recordings/porch/2023-11-14")
    assert synced == [
        base + ".mjpeg",
        base + ".idx",
        str(tmp_path),
        str(tmp_path / "recordings"),
        str(tmp_path / "recordings/porch"),
        day,
    ]
    synced.clear()
    assert writer.sync() == Written()
    assert synced == []
    writer.write(frames(1, START + 1), segment_seconds=FIVE_MINUTES)
    writer.sync()
    assert synced == [base + ".mjpeg", base + ".idx"]


# Disks that fail


def test_a_file_where_a_folder_should_be(tmp_path: Path) -> None:
    """
    A file where the camera's folder should be stops the writing with one
    line naming it; nothing is written, and writing works again once the
    file is gone.
    """
    root = tmp_path / "recordings"
    root.mkdir()
    (root / "porch").write_text("in the way")
    writer = SegmentWriter(root, "porch", OpenSegments())
    assert writer.write(frames(2), segment_seconds=FIVE_MINUTES) == Written(
        error=f"cannot write {root / 'porch'}: not a folder"
    )
    (root / "porch").unlink()
    assert writer.write(frames(2), segment_seconds=FIVE_MINUTES).frames == 2


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """
    Make C{folder} unwritable for the block: by its mode, or as root (whom
    modes do not stop) by the immutable attribute.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if (
        chattr is None
        or subprocess.run([chattr, "+i", str(folder)], check=False).returncode
    ):
        pytest.skip("as root, a folder is made unwritable only by chattr +i")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_folder_that_cannot_be_written(tmp_path: Path) -> None:
    """
    A day's folder that cannot be written stops the writing with one line
    naming the file and why; nothing is left behind, and writing works
    again once it can be written.
    """
    root = tmp_path / "recordings"
    day = root / "porch/2023-11-14"
    day.mkdir(parents=True)
    writer = SegmentWriter(root, "porch", OpenSegments())
    with read_only(day):
        written = writer.write(frames(2), segment_seconds=FIVE_MINUTES)
        segment = day / "20231114T221320.250Z.mjpeg"
        reason = os.strerror(errno.EPERM if os.geteuid() == 0 else errno.EACCES)
        assert written == Written(error=f"cannot write {segment}: {reason}")
        assert list(day.iterdir()) == []
    assert writer.write(frames(2), segment_seconds=FIVE_MINUTES).frames == 2


def no_space(fail_after: int) -> object:
    """
    A stand-in for the one place a segment's bytes are written that fails
    as a full disk does after C{fail_after} writes: the files cannot be
    filled for real without a file system of their own (which takes root
    to mount).
    """
    real = camserve.recording._segment_writer.write_all
    calls = [0]

    def write_all(fd: int, data: bytes) -> None:
        calls[0] += 1
        if calls[0] > fail_after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    return write_all


def test_a_full_disk_keeps_what_was_written(
    tmp_path: Path, writer: SegmentWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A disk that fills up mid-segment stops the writing with one line
    naming the file; the segment keeps every frame written before, its
    index every record, and the next write starts a new segment.
    """
    # The preamble, then two frames' part and record each, then the third
    # frame's part fails.
    monkeypatch.setattr(
        camserve.recording._segment_writer, "write_all", no_space(1 + 2 * 2)
    )
    written = frames(4)
    result = writer.write(written, segment_seconds=FIVE_MINUTES)
    segment = tmp_path / "recordings/porch/2023-11-14/20231114T221320.250Z.mjpeg"
    assert result == Written(
        2,
        sum(len(each.part) + RECORD.size for each in written[:2]),
        f"cannot write {segment}: No space left on device",
    )
    assert writer.segment is None
    assert [each.jpeg for each in check_whole(segment)] == [
        each.jpeg for each in written[:2]
    ]
    monkeypatch.undo()
    writer.write(written[2:], segment_seconds=FIVE_MINUTES)
    writer.end_segment()
    first, second = segments(tmp_path / "recordings", "porch")
    assert first == segment
    assert [each.jpeg for each in read_segment(second)] == [
        each.jpeg for each in written[2:]
    ]


def test_a_disk_full_from_the_start_leaves_no_empty_file(
    tmp_path: Path, writer: SegmentWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A segment that fails before its first frame is written is deleted: a
    full disk is not littered with empty segments.
    """
    monkeypatch.setattr(camserve.recording._segment_writer, "write_all", no_space(1))
    result = writer.write(frames(1), segment_seconds=FIVE_MINUTES)
    assert (result.frames, result.error is not None) == (0, True)
    assert list((tmp_path / "recordings/porch/2023-11-14").iterdir()) == []
