# -*- test-case-name: tests.test_catalog -*-
"""
What was recorded, as stretches of time without a gap (L{GAP}): found from
a segment's capture times at once, so that a timeline asking for days of
recording costs a few array operations a segment, not a step a frame.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

import numpy as np
from twisted.internet.defer import Deferred, succeed

if TYPE_CHECKING:
    from array import array

    from camserve.recording._catalog import Catalog
    from camserve.recording._segment_reader import SegmentFrames

GAP = 5.0
"""Seconds between two frames that make a gap in a recording: playback
skips it, and the recorded ranges end at it. More than a frame interval of
any camera but a time-lapse's."""
Span = tuple[float, float]
"""The first and last capture times of a stretch of frames without a gap."""


def spans_of(times: array[float], first: int, stop: int) -> list[Span]:
    """
    The stretches without a gap of the frames captured at C{times[first:stop]}.
    """
    if first >= stop:
        return []
    captured = np.frombuffer(times, dtype=np.float64)[first:stop]
    breaks = np.flatnonzero(np.diff(captured) > GAP)
    starts = captured[np.concatenate(([0], breaks + 1))]
    ends = captured[np.concatenate((breaks, [len(captured) - 1]))]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def join_spans(found: list[Span], spans: list[Span]) -> None:
    """
    Add C{spans}, which follow those C{found}, to them; a span that begins
    within L{GAP} of the last one found goes on with it.
    """
    for start, end in spans:
        if found and start - found[-1][1] <= GAP:
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))


def recorded_ranges(catalog: Catalog, start: float, end: float) -> Deferred[list[Span]]:
    """
    What C{catalog}'s camera recorded from C{start} to C{end}: the first
    and last capture times of each stretch of frames without a gap. A
    segment no longer written is read for this once: its spans are kept
    (L{Segment.spans <camserve.recording._catalog_files.Segment.spans>}).
    """
    chosen = catalog.overlapping(start, end)
    found: list[Span] = []

    def take(place: int) -> Deferred[list[Span]]:
        # A loop, not a call a segment: days of kept spans go by at once.
        while place < len(chosen):
            kept = chosen[place].spans
            if kept is None or (kept and not start <= kept[0][0] <= kept[-1][1] <= end):
                return catalog.frames(chosen[place], until=end).addCallback(read, place)
            join_spans(found, kept)
            place += 1
        return succeed(found)

    def read(frames: SegmentFrames, place: int) -> Deferred[list[Span]]:
        first = bisect_left(frames.times, start)
        stop = bisect_right(frames.times, end)
        spans = spans_of(frames.times, first, stop)
        if not chosen[place].growing and (first, stop) == (0, len(frames)):
            chosen[place].spans = spans
        join_spans(found, spans)
        return take(place + 1)

    return take(0)
