# -*- test-case-name: tests.test_catalog -*-
"""
A camera's recordings on disk as the catalog finds them: the segments in
its folder, and the worker that reads them away from the reactor.
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from twisted.internet.threads import deferToThreadPool

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from twisted.internet.defer import Deferred

    from camserve.recording._segment_reader import SegmentFrames

_T = TypeVar("_T")

SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")
"""The camera names that have recordings: one safe path segment."""
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SETTLED_NS = 2_000_000_000
"""How old, in nanoseconds, a folder's modification time must be to be
trusted to show every change since."""
_SEGMENT = re.compile(
    r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})\.([0-9]{3})Z\.mjpeg"
)


class Worker(Protocol):
    """
    Runs blocking work away from the reactor, firing with its result in the
    reactor thread.
    """

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]: ...


def in_threads(reactor: Any) -> Worker:
    """
    A L{Worker} running its work in C{reactor}'s thread pool.

    @param reactor: provides C{IReactorThreads} and C{IReactorFromThreads}.
    """

    def run(work: Callable[[], _T]) -> Deferred[_T]:
        # The pool is asked for at the first read, not before: a server
        # whose recordings are never read never starts it.
        return deferToThreadPool(reactor, reactor.getThreadPool(), work)

    return run


class Segment:
    """
    One segment of a camera's recording, and its frames once read.

    @ivar name: its date folder and name, without suffix; names sort in
        time order.
    @ivar start: the capture time of its first frame, to the millisecond
        below, from its name.
    @ivar frames: its frames as last read; L{None} until read, or once
        forgotten to bound memory.
    @ivar growing: whether it was the newest segment when last read, and so
        may have more frames since.
    @ivar loading: those waiting for its frames while they are being read;
        L{None} when they are not.
    @ivar spans: what it recorded, as stretches without a gap, once it is
        read whole and no longer written; L{None} until then.
    """

    def __init__(self, folder: Path, name: str, start: float) -> None:
        self.name = name
        self.start = start
        self._folder = folder
        self.frames: SegmentFrames | None = None
        self.growing = False
        self.loading: list[Deferred[SegmentFrames]] | None = None
        self.spans: list[tuple[float, float]] | None = None

    # Made when first asked for, not with the segment: a catalog makes one
    # for each of the tens of thousands of segments of months of recording.

    @cached_property
    def mjpeg(self) -> Path:
        """
        The segment's path.
        """
        return self._folder / f"{self.name}.mjpeg"

    @cached_property
    def idx(self) -> Path:
        """
        Its index's path.
        """
        return self._folder / f"{self.name}.idx"


class SegmentListing:
    """
    The segments in a camera's folder, each one's name (its date folder and
    file name without suffix) and start, in time order; a day's folder is
    listed again only if it may have changed since it was last listed: it
    is the newest (where segments are added), its modification time is
    not what it was (a segment was added or deleted), or that time is
    recent (a change within the same tick of the file system's clock would
    not show in it). When nothing changed, it gives the very list it gave
    before.

    Called in one thread at a time.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._days: dict[str, tuple[int, list[tuple[str, float]]]] = {}
        self._found: list[tuple[str, float]] = []

    def __call__(self) -> list[tuple[str, float]]:
        try:
            days = sorted(
                day.name for day in self.folder.iterdir() if _DAY.fullmatch(day.name)
            )
        except (FileNotFoundError, NotADirectoryError):
            days = []
        found: list[tuple[str, float]] = []
        listed = {}
        settled = time.time_ns() - _SETTLED_NS
        for day in days:
            try:
                changed = (self.folder / day).stat().st_mtime_ns
            except (FileNotFoundError, NotADirectoryError):
                continue
            known = self._days.get(day)
            if (
                known is None
                or known[0] != changed
                or changed > settled
                or day == days[-1]
            ):
                segments = list_day(self.folder, day)
                if segments is None:
                    continue
                if known is not None and segments == known[1]:
                    # The same list, so that nothing is looked through again.
                    segments = known[1]
                known = (changed, segments)
            listed[day] = known
            found += known[1]
        if listed.keys() == self._days.keys() and all(
            listed[day][1] is self._days[day][1] for day in listed
        ):
            # What was found before, as it was: nothing to look through.
            return self._found
        self._days, self._found = listed, found
        return found


def list_day(folder: Path, day: str) -> list[tuple[str, float]] | None:
    """
    The segments in C{folder}'s day folder C{day}; L{None} if it is gone.
    """
    try:
        names = sorted(path.name for path in (folder / day).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return None
    found = []
    for name in names:
        match = _SEGMENT.fullmatch(name)
        if match is not None:
            # Not strptime, which took most of the time of listing
            # months of segments.
            fields = [int(field) for field in match.groups()]
            start = timegm((*fields[:6], 0, 0, 0)) + fields[6] / 1000
            found.append((f"{day}/{name.removesuffix('.mjpeg')}", start))
    return found
