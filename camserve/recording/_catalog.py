# -*- test-case-name: tests.test_catalog -*-
"""
A camera's recordings as a whole: its segments in time order, what was
recorded when, the frame at any instant, and the frames after it across
segments, read in a thread so that the reactor never waits on the disk.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING

from attrs import frozen
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from camserve.recording._catalog_files import Segment, SegmentListing
from camserve.recording._segment_reader import (
    SegmentFrames,
    empty_frames,
    load_segment,
    read_frames,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from twisted.python.failure import Failure

    from camserve.recording._catalog_files import Worker
    from camserve.recording._segment_parts import Entry


@frozen
class Position:
    """
    One frame of a recording: its segment, its place in it, and its
    capture time.
    """

    segment: Segment
    index: int
    captured_at: float


@frozen
class Recorded:
    """
    A frame read back: its JPEG, untouched, and where it is.
    """

    jpeg: bytes
    position: Position

    @property
    def captured_at(self) -> float:
        """
        The frame's capture time, Unix seconds.
        """
        return self.position.captured_at


@frozen
class Stretch:
    """
    The frames of one segment within a span of time.

    @ivar first: the first one's place in the segment.
    @ivar lengths: each one's JPEG length.
    @ivar times: each one's capture time.
    """

    segment: Segment
    first: int
    lengths: Sequence[int]
    times: Sequence[float]

    def position(self, index: int) -> Position:
        """
        Where the stretch's frame C{index} (from 0) is.
        """
        return Position(self.segment, self.first + index, self.times[index])


class Catalog:
    """
    The recordings of one camera, in C{<recordings_dir>/<camera>/}.

    Called in the reactor thread; every file is read by the worker. The
    newest segment may still be written: asked for a frame past the end of
    what was read of it, the catalog reads it again.
    """

    _log = Logger()

    def __init__(self, folder: Path, work: Worker, *, cached: int = 16) -> None:
        """
        @param folder: the camera's folder of recordings.
        @param work: runs the reading of files.
        @param cached: how many segments' frames are kept in memory.
        """
        self.folder = folder
        self._work = work
        self._cached = cached
        self._segments: list[Segment] = []
        self._starts: list[float] = []
        self._by_name: dict[str, Segment] = {}
        self._loaded: OrderedDict[Segment, None] = OrderedDict()
        self._listing = SegmentListing(folder)
        self._found: list[tuple[str, float]] | None = None
        self._refreshing: list[Deferred[None]] | None = None

    @property
    def segments(self) -> list[Segment]:
        """
        The segments found by the last L{refresh}, in time order.
        """
        return list(self._segments)

    def refresh(self) -> Deferred[None]:
        """
        Look for the segments there are now; while a look is under way
        (another request's), its end.
        """
        waiter: Deferred[None] = Deferred()
        if self._refreshing is not None:
            self._refreshing.append(waiter)
            return waiter
        self._refreshing = [waiter]
        self._work(self._listing).addCallback(self._listed).addBoth(self._refreshed)
        return waiter

    def _refreshed(self, result: Failure | None) -> None:
        waiting, self._refreshing = self._refreshing or [], None
        for waiter in waiting:
            if result is None:
                waiter.callback(None)
            else:
                waiter.errback(result)

    def at(self, when: float) -> Deferred[Position | None]:
        """
        The frame captured at C{when} or just before; L{None} if nothing was
        recorded by then.
        """
        found = bisect_right(self._starts, when) - 1
        if found < 0:
            return succeed(None)
        segment = self._segments[found]

        def search(frames: SegmentFrames) -> Deferred[Position | None]:
            index = bisect_right(frames.times, when) - 1
            if index >= 0:
                return succeed(Position(segment, index, frames.times[index]))
            return self._last_before(found)

        return self.frames(segment, until=when).addCallback(search)

    def following(self, when: float) -> Deferred[Position | None]:
        """
        The first frame captured at C{when} or later; L{None} if there is
        none yet.
        """
        if not self._segments:
            return succeed(None)
        segment = self._segments[max(bisect_right(self._starts, when) - 1, 0)]
        return self.at_or_after(Position(segment, 0, segment.start), when)

    def after(self, position: Position) -> Deferred[Position | None]:
        """
        The frame after C{position}; L{None} past the last recorded now.
        """
        return self.at_or_after(position, position.captured_at, position.index + 1)

    def at_or_after(
        self, position: Position, when: float, first: int | None = None
    ) -> Deferred[Position | None]:
        """
        The first frame captured at C{when} or later, from C{position} on
        (from C{first} in its segment, if given); L{None} if there is none
        yet.
        """
        segment = position.segment
        start = position.index if first is None else first

        def search(frames: SegmentFrames) -> Deferred[Position | None]:
            index = bisect_left(frames.times, when, start)
            if index < len(frames):
                return succeed(Position(segment, index, frames.times[index]))
            return self._first_from(segment, when)

        return self.frames(segment, until=when, beyond=start).addCallback(search)

    def before(self, position: Position) -> Deferred[Position | None]:
        """
        The frame before C{position}; L{None} for the first recorded.
        """
        if position.index > 0:
            index = position.index - 1
            return self.frames(position.segment).addCallback(
                lambda frames: (
                    Position(position.segment, index, frames.times[index])
                    if index < len(frames)
                    else None
                )
            )
        return self._last_before(self._place(position.segment))

    def read(self, positions: Sequence[Position]) -> Deferred[list[Recorded]]:
        """
        The frames at C{positions}, all of one segment, in order; a frame
        found damaged, and those after it, are left out.
        """
        if not positions:
            return succeed([])
        segment = positions[0].segment

        def read(frames: SegmentFrames) -> Deferred[list[Recorded]]:
            wanted = [position.index for position in positions]
            work = partial(read_frames, segment.mjpeg, segment.idx, frames, wanted)
            return self._work(work).addCallback(done)

        def done(
            result: tuple[list[tuple[Entry, bytes]], SegmentFrames],
        ) -> list[Recorded]:
            read, frames = result
            if frames is not segment.frames and segment.frames is not None:
                self._log.warn(
                    "recording {segment} of {folder} is damaged after frame {count};"
                    " reading on from what is whole",
                    segment=segment.name,
                    folder=str(self.folder),
                    count=len(read),
                )
                segment.frames = frames
                segment.spans = None
            return [
                Recorded(jpeg, Position(segment, position.index, entry.captured_at))
                for position, (entry, jpeg) in zip(positions, read, strict=False)
            ]

        return self.frames(segment).addCallback(read)

    def between(
        self, start: float, end: float, *, most: int | None = None
    ) -> Deferred[list[Stretch]]:
        """
        The frames captured from C{start} to C{end}, both included, by
        segment; or, if there are more than C{most}, the first C{most} + 1.
        """
        chosen = self.overlapping(start, end)
        stretches: list[Stretch] = []
        left = [-1 if most is None else most + 1]

        def take(place: int) -> Deferred[list[Stretch]]:
            if place == len(chosen) or not left[0]:
                return succeed(stretches)
            return self.frames(chosen[place], until=end).addCallback(found, place)

        def found(frames: SegmentFrames, place: int) -> Deferred[list[Stretch]]:
            first = bisect_left(frames.times, start)
            stop = bisect_right(frames.times, end)
            stop = stop if left[0] < 0 else min(stop, first + left[0])
            if first < stop:
                # Slices of the arrays: 12 bytes a frame, however many.
                times = frames.times[first:stop]
                lengths = frames.lengths[first:stop]
                stretches.append(Stretch(chosen[place], first, lengths, times))
                left[0] -= 0 if left[0] < 0 else stop - first
            return take(place + 1)

        return take(0)

    # Segments

    def _listed(self, found: list[tuple[str, float]]) -> None:
        if found is self._found:
            return
        self._found = found
        by_name = {}
        for name, start in found:
            segment = self._by_name.get(name)
            by_name[name] = segment or Segment(self.folder, name, start)
        for gone in self._by_name.keys() - by_name.keys():
            self._loaded.pop(self._by_name[gone], None)
        self._by_name = by_name
        self._segments = list(by_name.values())
        self._starts = [segment.start for segment in self._segments]

    def _place(self, segment: Segment) -> int:
        return bisect_left(self._starts, segment.start)

    def overlapping(self, start: float, end: float) -> list[Segment]:
        """
        The segments that may hold frames captured from C{start} to C{end},
        as last listed.
        """
        first = max(bisect_right(self._starts, start) - 1, 0)
        stop = bisect_right(self._starts, end)
        return self._segments[first:stop]

    def _last_before(self, place: int) -> Deferred[Position | None]:
        """
        The last frame of the segments before the one at C{place}.
        """
        if place <= 0:
            return succeed(None)
        segment = self._segments[place - 1]

        def last(frames: SegmentFrames) -> Deferred[Position | None]:
            if len(frames):
                index = len(frames) - 1
                return succeed(Position(segment, index, frames.times[index]))
            return self._last_before(place - 1)

        return self.frames(segment).addCallback(last)

    def _first_from(self, segment: Segment, when: float) -> Deferred[Position | None]:
        """
        The first frame at C{when} or later of the segments after
        C{segment}, looking for new ones if it was the newest.
        """
        place = self._place(segment)
        if place < len(self._segments) and self._segments[place] is segment:
            place += 1
        if place < len(self._segments):
            following = self._segments[place]
            return self.frames(following).addCallback(
                lambda _: self.at_or_after(
                    Position(following, 0, following.start), when
                )
            )
        if not segment.growing:
            return succeed(None)
        # A new segment may have begun since the folder was last listed.
        count = len(self._segments)
        return self.refresh().addCallback(
            lambda _: (
                self._first_from(segment, when) if len(self._segments) > count else None
            )
        )

    # Frames

    def frames(
        self, segment: Segment, *, until: float | None = None, beyond: int = 0
    ) -> Deferred[SegmentFrames]:
        """
        The frames of C{segment}, read if they are not known, or read again
        if it may have grown and what is known ends before C{until} or at
        C{beyond}.
        """
        known = segment.frames
        if known is not None:
            self._loaded.move_to_end(segment)
            stale = segment.growing and (
                beyond >= len(known)
                or (until is not None and (not len(known) or known.times[-1] < until))
            )
            if not stale:
                return succeed(known)
        waiter: Deferred[SegmentFrames] = Deferred()
        if segment.loading is not None:
            segment.loading.append(waiter)
            return waiter
        segment.loading = [waiter]
        newest = segment is self._segments[-1] if self._segments else False
        work = partial(load_segment, segment.mjpeg, segment.idx, known)
        self._work(work).addErrback(self._unreadable, segment).addCallback(
            self._loaded_frames, segment, newest
        )
        return waiter

    def _unreadable(self, failure: Failure, segment: Segment) -> SegmentFrames:
        self._log.failure(
            "recording {segment} of {folder} cannot be read",
            failure,
            segment=segment.name,
            folder=str(self.folder),
        )
        return empty_frames()

    def _loaded_frames(
        self, frames: SegmentFrames, segment: Segment, newest: bool
    ) -> None:
        segment.frames = frames
        segment.growing = newest
        self._loaded[segment] = None
        self._loaded.move_to_end(segment)
        while len(self._loaded) > self._cached:
            forgotten, _ = self._loaded.popitem(last=False)
            forgotten.frames = None
        waiters, segment.loading = segment.loading or [], None
        for waiter in waiters:
            waiter.callback(frames)
