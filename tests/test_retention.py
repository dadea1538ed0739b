"""
Tests for L{camserve.recording._retention}: the oldest whole segments of
real recordings deleted, by age, by bytes and for the disk's free-space
floor; never one being written, nor a file that is no segment's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from camserve.recording._layout import segment_named
from camserve.recording._open_segments import OpenSegments
from camserve.recording._retention import Limits, Retention, Swept, disk_free

if TYPE_CHECKING:
    from pathlib import Path

DAY = 86_400.0
NOW = 1_700_000_000.0


def segment(
    root: Path,
    camera: str,
    started: float,
    size: int = 1000,
    *,
    ended: float | None = None,
    act: bool = False,
) -> Path:
    """
    Write a segment of C{camera} started at C{started} (its files of
    C{size} bytes in all, last changed at C{ended}); its path without a
    suffix.
    """
    name = segment_named(root, camera, int(started * 1000))
    name.folder.mkdir(parents=True, exist_ok=True)
    suffixes = (".mjpeg", ".idx", ".act") if act else (".mjpeg", ".idx")
    for suffix in suffixes:
        path = name.path(suffix)
        path.write_bytes(
            b"x" * (size - 100 * (len(suffixes) - 1) if suffix == ".mjpeg" else 100)
        )
        changed = started + 60 if ended is None else ended
        os.utime(path, (changed, changed))
    # Day folders last changed long ago: their listings may be kept.
    os.utime(name.folder, (NOW - DAY, NOW - DAY))
    return name.base


def mjpeg(base: Path) -> Path:
    return base.with_name(base.name + ".mjpeg")


def left(root: Path) -> list[str]:
    """
    Every file under C{root}, relative to it.
    """
    return sorted(
        str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()
    )


def test_segments_older_than_the_cameras_max_age_go(tmp_path: Path) -> None:
    """
    A camera's segments whose last frame is older than its C{max_age} are
    deleted, each with every file it has; another camera's are not, and
    the bytes each camera's recording holds are counted.
    """
    old = segment(tmp_path, "porch", NOW - 2 * DAY, act=True)
    kept = segment(tmp_path, "porch", NOW - 3600)
    other = segment(tmp_path, "garage", NOW - 3 * DAY, 500)
    retention = Retention(OpenSegments())
    swept = retention.sweep(tmp_path, {"porch": Limits(max_age=DAY)}, 0, NOW)
    assert swept == Swept({"porch": 1000, "garage": 500}, (old,), low=False)
    assert left(tmp_path) == [
        "garage/2023-11-11/20231111T221320.000Z.idx",
        "garage/2023-11-11/20231111T221320.000Z.mjpeg",
        "porch/2023-11-14/20231114T211320.000Z.idx",
        "porch/2023-11-14/20231114T211320.000Z.mjpeg",
    ]
    # The emptied day's folder goes too.
    assert not old.parent.exists()
    assert kept.parent.exists()
    assert other.parent.exists()


def test_the_oldest_segments_go_beyond_max_bytes(tmp_path: Path) -> None:
    """
    Beyond a camera's C{max_bytes}, its oldest segments go until it holds
    no more.
    """
    bases = [
        segment(tmp_path, "porch", NOW - hours * 3600) for hours in (5, 4, 3, 2, 1)
    ]
    retention = Retention(OpenSegments())
    swept = retention.sweep(tmp_path, {"porch": Limits(max_bytes=2500)}, 0, NOW)
    assert swept.deleted == tuple(bases[:3])
    assert swept.usage == {"porch": 2000}
    assert [mjpeg(base).exists() for base in bases] == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_the_segment_being_written_is_never_deleted(tmp_path: Path) -> None:
    """
    A segment being written is kept whatever the limits, counted all the
    same; the others go.
    """
    opened = OpenSegments()
    writing = segment(tmp_path, "porch", NOW - 2 * DAY)
    older = segment(tmp_path, "porch", NOW - 3 * DAY)
    opened.add(writing)
    swept = Retention(opened).sweep(
        tmp_path, {"porch": Limits(max_age=1, max_bytes=1)}, 0, NOW
    )
    assert swept.deleted == (older,)
    assert swept.usage == {"porch": 1000}
    assert mjpeg(writing).exists()


def test_files_that_are_no_segments_are_left_alone(tmp_path: Path) -> None:
    """
    Files and folders whose names are not a segment's, a day's or of a
    segment's suffixes are never deleted, nor counted.
    """
    base = segment(tmp_path, "porch", NOW - 2 * DAY)
    (base.parent / "notes.txt").write_text("mine")
    (base.parent / "20231112T221320.000Z.mp4").write_text("mine")
    (tmp_path / "porch" / "exports").mkdir()
    (tmp_path / "porch" / "exports" / "20231112T221320.000Z.mjpeg").write_text("mine")
    (tmp_path / "README").write_text("mine")
    swept = Retention(OpenSegments()).sweep(
        tmp_path, {"porch": Limits(max_age=1)}, 0, NOW
    )
    assert swept.deleted == (base,)
    assert left(tmp_path) == [
        "README",
        "porch/2023-11-12/20231112T221320.000Z.mp4",
        "porch/2023-11-12/notes.txt",
        "porch/exports/20231112T221320.000Z.mjpeg",
    ]


def test_below_the_floor_the_oldest_of_any_camera_go(tmp_path: Path) -> None:
    """
    While the disk has less free space than the floor, the oldest segments
    of every camera go, oldest first, whatever the cameras' own limits;
    when nothing is left to delete but the segment being written, the disk
    is said to be low.
    """
    porch = [segment(tmp_path, "porch", NOW - hours * 3600) for hours in (9, 5, 1)]
    garage = [segment(tmp_path, "garage", NOW - hours * 3600) for hours in (7, 3)]

    def free_space(path: Path) -> int:
        # A 10 000-byte disk holding only the recordings.
        assert path == tmp_path
        return 10_000 - sum(each.stat().st_size for each in tmp_path.rglob("*.*"))

    opened = OpenSegments()
    opened.add(porch[2])
    retention = Retention(opened, free_space)
    swept = retention.sweep(tmp_path, {}, 7_500, NOW)
    assert swept.deleted == (porch[0], garage[0], porch[1])
    assert (swept.usage, swept.low) == ({"porch": 1000, "garage": 1000}, False)
    swept = retention.sweep(tmp_path, {}, 9_500, NOW)
    assert swept.deleted == (garage[1],)
    assert (swept.usage, swept.low) == ({"porch": 1000, "garage": 0}, True)
    assert left(tmp_path) == [
        "porch/2023-11-14/20231114T211320.000Z.idx",
        "porch/2023-11-14/20231114T211320.000Z.mjpeg",
    ]


def test_a_changed_folder_is_read_again(tmp_path: Path) -> None:
    """
    A day's folder is listed again when it has changed since the last
    sweep: segments added to it count, and go when they must.
    """
    retention = Retention(OpenSegments())
    segment(tmp_path, "porch", NOW - 2 * DAY)
    assert retention.sweep(tmp_path, {}, 0, NOW).usage == {"porch": 1000}
    later = segment(tmp_path, "porch", NOW - 2 * DAY + 600, 3000)
    os.utime(later.parent, (NOW - DAY + 1, NOW - DAY + 1))
    assert retention.sweep(tmp_path, {}, 0, NOW).usage == {"porch": 4000}
    swept = retention.sweep(tmp_path, {"porch": Limits(max_bytes=3500)}, 0, NOW)
    assert swept.usage == {"porch": 3000}


def test_what_cannot_be_measured_is_said(tmp_path: Path) -> None:
    """
    A recordings folder not made yet holds nothing; a disk whose free space
    cannot be measured is said in one line, and the recordings counted all
    the same.
    """
    segment(tmp_path, "porch", NOW - 2 * DAY)
    (tmp_path / "garage").write_text("not a camera's folder")
    swept = Retention(OpenSegments()).sweep(tmp_path / "missing", {}, 0, NOW)
    assert swept == Swept()
    swept = Retention(OpenSegments(), _fail).sweep(tmp_path, {}, 1, NOW)
    assert swept.errors == (
        f"cannot measure the free space of {tmp_path}: gone: {tmp_path}",
    )
    assert swept.usage == {"porch": 1000}


def _fail(path: Path) -> int:
    raise OSError(f"gone: {path}")


def test_disk_free_measures_the_nearest_folder_that_exists(tmp_path: Path) -> None:
    """
    The free space of a folder not made yet is that of the disk it will be
    on.
    """
    assert 0 < disk_free(tmp_path / "not" / "yet") <= disk_free(tmp_path) * 2
