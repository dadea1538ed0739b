"""
Tests for L{camserve.recording._catalog}: a camera's segments in time
order, the frame at any instant found by a binary search, frames after and
before one across segments, a segment still being written read again, the
recorded ranges and their gaps, and files read only by the worker.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from recorded import START, frames_at, write_segment
from support import reactor_test
from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred

from camserve.recording._catalog import Catalog, Position
from camserve.recording._catalog_files import SegmentListing, Worker, in_threads
from camserve.recording._recorded_spans import GAP, recorded_ranges

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from recorded import Written

_T = TypeVar("_T")


class Counting:
    """
    A worker that does its work at once, counting it.
    """

    def __init__(self) -> None:
        self.jobs = 0

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        self.jobs += 1
        return maybeDeferred(work)


class Noting:
    """
    A worker that notes the threads it runs its work in.
    """

    def __init__(self, run: Worker) -> None:
        self.run = run
        self.threads: set[int] = set()

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        def noted() -> _T:
            self.threads.add(threading.get_ident())
            return work()

        return self.run(noted)


def result(deferred: Deferred[_T]) -> _T:
    """
    What C{deferred} has fired with.
    """
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert len(results) == 1
    return results[0]  # type: ignore[no-any-return]  # what the Deferred fired with


def position(deferred: Deferred[Position | None]) -> Position:
    """
    The frame C{deferred} has found.
    """
    found = result(deferred)
    assert found is not None
    return found


def catalog_of(folder: Path, **options: int) -> tuple[Catalog, Counting]:
    """
    A catalog of camera C{porch} of C{folder}, listed, and its worker.
    """
    work = Counting()
    catalog = Catalog(folder / "porch", work, **options)
    result(catalog.refresh())
    return catalog, work


@pytest.fixture
def three(tmp_path: Path) -> list[Written]:
    """
    Three segments of 10 frames at 10 fps: the second right after the
    first, the third after a gap of a minute, on the next day (UTC).
    """
    midnight = 1_700_006_400.0
    first = midnight - 2.05
    return [
        write_segment(tmp_path, frames_at(first, 10, fps=10)),
        write_segment(tmp_path, frames_at(first + 1.0, 10, fps=10, first=10)),
        write_segment(tmp_path, frames_at(midnight + 60, 10, fps=10, first=20)),
    ]


def times(written: list[Written]) -> list[float]:
    return [captured_at for each in written for captured_at, _ in each.frames]


def test_segments_in_time_order(tmp_path: Path, three: list[Written]) -> None:
    """
    The segments are listed in time order across date folders, each with
    the start its name gives; other files are not segments.
    """
    (tmp_path / "porch" / "notes.txt").write_text("x")
    (three[0].mjpeg.parent / "20231114T000000.000Z.act").write_bytes(b"")
    catalog, _ = catalog_of(tmp_path)
    names = [segment.name for segment in catalog.segments]
    assert names == sorted(names)
    assert [name.split("/")[0] for name in names] == [
        "2023-11-14",
        "2023-11-14",
        "2023-11-15",
    ]
    starts = [segment.start for segment in catalog.segments]
    first_times = [each.frames[0][0] for each in three]
    assert starts == pytest.approx(first_times, abs=1e-3)
    assert all(start <= first for start, first in zip(starts, first_times, strict=True))


def test_frame_at_an_instant(tmp_path: Path, three: list[Written]) -> None:
    """
    The frame at an instant is the one captured then or just before, in
    whichever segment; nothing before the first frame.
    """
    catalog, _ = catalog_of(tmp_path)
    every = times(three)
    for index, captured_at in enumerate(every):
        for when in [captured_at, captured_at + 0.0999]:
            found = result(catalog.at(when))
            assert found is not None
            assert found.captured_at == captured_at
            assert found.index == index % 10
    assert result(catalog.at(every[0] - 0.001)) is None
    # In the gap, and after the end: the last frame before.
    assert position(catalog.at(every[19] + 30)).captured_at == every[19]
    assert position(catalog.at(every[-1] + 3600)).captured_at == every[-1]


def test_search_reads_no_file_once_known(tmp_path: Path, three: list[Written]) -> None:
    """
    Once a segment's frames are known, finding an instant in it is a
    binary search in memory: no file is read.
    """
    catalog, work = catalog_of(tmp_path)
    result(catalog.at(times(three)[5]))
    jobs = work.jobs
    for captured_at in times(three)[:10]:
        assert position(catalog.at(captured_at + 0.01)).captured_at == captured_at
    assert work.jobs == jobs


def walk(
    catalog: Catalog, position: Position | None, step: Callable[[Position], Any]
) -> list[float]:
    """
    The capture times from C{position} on, stepping with C{step}.
    """
    found = []
    while position is not None:
        found.append(position.captured_at)
        position = result(step(position))
    return found


def test_after_and_before_across_segments(tmp_path: Path, three: list[Written]) -> None:
    """
    Frames follow one another across segments, forward and back, from the
    first to the last.
    """
    catalog, _ = catalog_of(tmp_path)
    every = times(three)
    first = result(catalog.at(every[0]))
    assert walk(catalog, first, catalog.after) == every
    last = result(catalog.at(every[-1]))
    assert walk(catalog, last, catalog.before) == every[::-1]


def test_at_or_after(tmp_path: Path, three: list[Written]) -> None:
    """
    The first frame at or after an instant is found from a frame on,
    across segments and gaps.
    """
    catalog, _ = catalog_of(tmp_path)
    every = times(three)
    first = position(catalog.at(every[0]))
    for index in range(0, 30, 3):
        found = position(catalog.at_or_after(first, every[index] - 0.05))
        assert found.captured_at == every[index]
    assert result(catalog.at_or_after(first, every[-1] + 0.01)) is None


def test_growing_segment(tmp_path: Path) -> None:
    """
    The newest segment is read again when a frame past what was read of it
    is asked for, and a segment begun since is found after it.
    """
    frames = frames_at(START, 30, fps=10)
    write_segment(tmp_path, frames[:5])
    catalog, _ = catalog_of(tmp_path)
    start = position(catalog.at(START))
    assert result(catalog.at_or_after(start, START + 1)) is None
    write_segment(tmp_path, frames[:15])
    assert walk(catalog, start, catalog.after) == [
        captured_at for captured_at, _ in frames[:15]
    ]
    write_segment(tmp_path, frames[:20])
    write_segment(tmp_path, frames[20:])
    found = result(catalog.at_or_after(start, frames[18][0]))
    assert walk(catalog, found, catalog.after) == [
        captured_at for captured_at, _ in frames[18:]
    ]
    assert position(catalog.at(START + 100)).captured_at == frames[-1][0]


def test_between_and_ranges(tmp_path: Path, three: list[Written]) -> None:
    """
    The frames between two instants (both included) come by segment, with
    their lengths; the recorded ranges join segments without a gap and
    split at one.
    """
    catalog, _ = catalog_of(tmp_path)
    every = times(three)
    stretches = result(catalog.between(every[3], every[24]))
    assert [len(stretch.times) for stretch in stretches] == [7, 10, 5]
    assert [stretch.first for stretch in stretches] == [3, 0, 0]
    assert [t for stretch in stretches for t in stretch.times] == every[3:25]
    jpegs = [jpeg for each in three for _, jpeg in each.frames]
    lengths = [n for stretch in stretches for n in stretch.lengths]
    assert lengths == [len(jpeg) for jpeg in jpegs[3:25]]
    assert result(catalog.between(every[9] + 0.01, every[10] - 0.01)) == []
    assert result(recorded_ranges(catalog, every[0] - 100, every[-1] + 100)) == [
        (every[0], every[19]),
        (every[20], every[29]),
    ]
    assert every[20] - every[19] > GAP


def test_between_at_most(tmp_path: Path, three: list[Written]) -> None:
    """
    Asked for at most some frames, the frames between two instants stop
    one past them, so that a span too long is known without holding it.
    """
    catalog, _ = catalog_of(tmp_path)
    every = times(three)
    stretches = result(catalog.between(every[0], every[-1], most=12))
    assert [t for stretch in stretches for t in stretch.times] == every[:13]
    stretches = result(catalog.between(every[0], every[-1], most=30))
    assert [t for stretch in stretches for t in stretch.times] == every


def test_ranges_read_a_closed_segment_once(
    tmp_path: Path, three: list[Written]
) -> None:
    """
    The spans of a segment no longer written are kept once read whole, so
    the recorded ranges of a long span do not read its segments again,
    even once their frames are forgotten; a span that cuts a segment
    still ends at its frames.
    """
    catalog, work = catalog_of(tmp_path, cached=1)
    every = times(three)
    whole = result(recorded_ranges(catalog, every[0] - 100, every[-1] + 100))
    jobs = work.jobs
    again = result(recorded_ranges(catalog, every[0] - 100, every[-1] + 100))
    assert again == whole
    # Only the newest segment, which may grow, is looked at again.
    assert work.jobs - jobs <= 1
    assert result(recorded_ranges(catalog, every[3] - 0.01, every[13] + 0.01)) == [
        (every[3], every[13])
    ]


def test_a_settled_day_is_not_listed_again(
    tmp_path: Path, three: list[Written]
) -> None:
    """
    A day's folder whose modification time is what it was, and not recent,
    is taken as it was listed, unless it is the newest day; a change of
    that time lists it again.
    """
    listing = SegmentListing(tmp_path / "porch")
    older, newest = three[0].mjpeg.parent, three[2].mjpeg.parent
    settled = time.time() - 3600
    for day in (older, newest):
        os.utime(day, (settled, settled))
    assert len(listing()) == 3
    # A segment appears in each day, their folders' times put back: only
    # the newest day is looked at again.
    for day, when in ((older, START - 7200), (newest, START + 7200)):
        write_segment(tmp_path, frames_at(when, 2))
        os.utime(day, (settled, settled))
    found = listing()
    assert len(found) == 4
    assert [round(start) for _, start in found].count(round(START + 7200)) == 1
    os.utime(older, (settled + 1, settled + 1))
    assert len(listing()) == 5


def test_a_recent_change_is_listed_again(tmp_path: Path, three: list[Written]) -> None:
    """
    A day's folder changed within the last seconds is listed again even if
    its time did not change, since a change in the same tick of the file
    system's clock would not show in it.
    """
    listing = SegmentListing(tmp_path / "porch")
    assert len(listing()) == 3
    older = three[0].mjpeg.parent
    changed = older.stat().st_mtime_ns
    three[1].mjpeg.unlink()
    os.utime(older, ns=(changed, changed))
    assert len(listing()) == 2


def test_refreshes_at_once_share_one_look(tmp_path: Path, three: list[Written]) -> None:
    """
    A refresh asked while another is under way waits for it rather than
    listing the folder again.
    """
    looks: list[Deferred[Any]] = []

    def later(work: Callable[[], _T]) -> Deferred[_T]:
        look: Deferred[_T] = Deferred()
        looks.append(look)
        look.addCallback(lambda _: work())
        return look

    catalog = Catalog(tmp_path / "porch", later)
    first, second = catalog.refresh(), catalog.refresh()
    assert len(looks) == 1
    looks[0].callback(None)
    assert result(first) is None
    assert result(second) is None
    assert len(catalog.segments) == 3
    catalog.refresh()
    assert len(looks) == 2


def test_read(tmp_path: Path, three: list[Written]) -> None:
    """
    The JPEGs read are those recorded, with their capture times.
    """
    catalog, _ = catalog_of(tmp_path)
    positions = [position(catalog.at(times(three)[10]))]
    for _ in range(4):
        positions.append(position(catalog.after(positions[-1])))
    read = result(catalog.read(positions))
    assert [frame.jpeg for frame in read] == [jpeg for _, jpeg in three[1].frames[:5]]
    assert [frame.captured_at for frame in read] == times(three)[10:15]


def test_damage_found_while_reading(
    tmp_path: Path, three: list[Written], log: Any
) -> None:
    """
    A frame found damaged as it is read ends its segment's frames before
    it, from then on, and is logged; the frames of the next segment follow.
    """
    damaged = bytearray(three[0].mjpeg.read_bytes())
    damaged[three[0].offsets[6] + 100] ^= 0xFF
    three[0].mjpeg.write_bytes(bytes(damaged))
    catalog, _ = catalog_of(tmp_path)
    first = position(catalog.at(times(three)[0]))
    positions = [first]
    for _ in range(9):
        positions.append(position(catalog.after(positions[-1])))
    assert len(result(catalog.read(positions))) == 6
    assert (
        walk(catalog, first, catalog.after)[:8]
        == times(three)[:6] + times(three)[10:12]
    )
    assert any("is damaged after frame 6" in line for line in log.formatted())


def test_memory_bounded(tmp_path: Path, three: list[Written]) -> None:
    """
    Only the most recently used segments' frames are kept; a forgotten one
    is read again when needed.
    """
    catalog, work = catalog_of(tmp_path, cached=2)
    every = times(three)
    for when in every[::10]:
        result(catalog.at(when))
    assert [segment.frames is None for segment in catalog.segments] == [
        True,
        False,
        False,
    ]
    jobs = work.jobs
    assert position(catalog.at(every[1])).captured_at == every[1]
    assert work.jobs == jobs + 1


def test_no_recordings(tmp_path: Path) -> None:
    """
    A camera without a folder has no segments, and nothing at any time.
    """
    catalog, _ = catalog_of(tmp_path)
    assert catalog.segments == []
    assert result(catalog.at(START)) is None
    assert result(recorded_ranges(catalog, 0, START)) == []


@reactor_test
async def test_files_are_read_in_threads(tmp_path: Path, three: list[Written]) -> None:
    """
    With the reactor's threads, every file is read away from the reactor
    thread.
    """
    work = Noting(in_threads(reactor))
    catalog = Catalog(tmp_path / "porch", work)
    await catalog.refresh()
    position = await catalog.at(times(three)[12])
    assert position is not None
    read = await catalog.read([position])
    assert read[0].jpeg == three[1].frames[2][1]
    assert work.threads
    assert threading.get_ident() not in work.threads
