# -*- test-case-name: tests.test_activity_route -*-
"""
A camera's activity over a span of time, read from the C{.act} files of its
segments (C{docs/recording-format.md}): the peak of each of a number of
equal buckets, which the camera page's timeline draws.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from attrs import frozen
from twisted.logger import Logger

from camserve.recording._layout import ACTIVITY, SEGMENT

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from twisted.internet.defer import Deferred

    from camserve.recording._catalog_files import Segment, Worker

RECORDS = np.dtype([("start", "<f8"), ("score", "<f4")])
"""A C{.act} file's records as numpy reads them: 12 bytes each, as
L{camserve.recording._activity_file.ACTIVITY_RECORD}."""
MINUTE = 60.0
"""The seconds summed up in one record of a segment's summary."""


def read_activity(path: Path) -> bytes:
    """
    The bytes of the C{.act} file at C{path}.

    @raise OSError: if it cannot be read (L{FileNotFoundError} if there is
        none).
    """
    with path.open("rb") as file:
        return file.read()


@frozen
class Peaks:
    """
    A camera's activity over a span cut into equal buckets.

    @ivar start: the start of the first bucket, Unix seconds.
    @ivar step: each bucket's length, seconds.
    @ivar peaks: each bucket's highest score (0 to 1), or L{None} where no
        second of it was scored.
    """

    start: float
    step: float
    peaks: list[float | None]

    def as_json(self) -> dict[str, Any]:
        """
        The JSON answer: C{{"start": t, "step": s, "peaks": [...]}}.
        """
        return {"start": self.start, "step": self.step, "peaks": self.peaks}


@frozen
class _Read:
    """
    What was read of one C{.act} file.

    @ivar size: the file's size then; -1 for no file.
    @ivar closed: whether its segment was closed then, so that the file
        can no longer change.
    @ivar data: its records, as L{RECORDS}: every second's, or each
        minute's peak (its start a whole minute).
    """

    size: int
    closed: bool
    data: bytes


class _Bounded:
    """
    What was read of the files most recently used, by path, at most
    C{limit} of them by weight; used from any thread.
    """

    def __init__(self, limit: int, weigh: Callable[[_Read], int]) -> None:
        self._limit = limit
        self._weigh = weigh
        self._weight = 0
        self._known: OrderedDict[str, _Read] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str) -> _Read | None:
        with self._lock:
            found = self._known.get(path)
            if found is not None:
                self._known.move_to_end(path)
            return found

    def put(self, path: str, read: _Read) -> None:
        with self._lock:
            old = self._known.pop(path, None)
            if old is not None:
                self._weight -= self._weigh(old)
            self._known[path] = read
            self._weight += self._weigh(read)
            while self._weight > self._limit and len(self._known) > 1:
                _, forgotten = self._known.popitem(last=False)
                self._weight -= self._weigh(forgotten)


class ActivityIndex:
    """
    The activity of the recorded segments of every camera, read in the
    worker's threads.

    A closed segment's C{.act} file (any but its camera's newest segment,
    which may still grow) is read once: what it says is kept, by path, in
    two caches of the files most recently used. One keeps each segment's
    summary, the peak of each minute (12 bytes a minute recorded), for
    buckets of a minute or more, at most C{summaries} segments (about 400
    bytes each with their keys: 20 MB for 50,000, 170 days of one
    camera's 5-minute segments); the other every second's record, for
    finer buckets, at most C{seconds} bytes of records (4 MB, 93 hours,
    by default). The newest segment's file is read again when its size
    has changed.
    """

    _log = Logger()

    def __init__(
        self,
        work: Worker,
        *,
        summaries: int = 50_000,
        seconds: int = 4_000_000,
        read: Callable[[Path], bytes] = read_activity,
    ) -> None:
        """
        @param work: runs the reading, away from the reactor.
        @param summaries: how many segments' summaries are kept.
        @param seconds: how many bytes of seconds' records are kept.
        @param read: reads a file's bytes (L{read_activity}).
        """
        self._work = work
        self._read = read
        self._minutes = _Bounded(summaries, lambda _: 1)
        self._seconds = _Bounded(seconds, lambda read: len(read.data))
        self._reported: set[str] = set()

    def peaks(
        self, segments: Sequence[Segment], start: float, end: float, buckets: int
    ) -> Deferred[Peaks]:
        """
        The activity from C{start} to C{end} (after it) of the camera whose
        segments are C{segments}, in time order, cut into C{buckets} equal
        buckets. A second counts in the bucket it starts in; with buckets
        of a minute or more, a minute counts, to the minute, in the bucket
        it starts in (the first, for one that starts before C{start}).

        A missing C{.act} has no activity, one cut short is read up to its
        last whole record, and one that cannot be read is left out (and
        logged once).
        """
        step = (end - start) / buckets
        fine = step < MINUTE
        starts = [segment.start for segment in segments]
        # A segment's first second may start up to a second before it, and
        # its last may end a second into the next segment.
        first = max(bisect_right(starts, start - 1) - 1, 0)
        stop = bisect_left(starts, end + 1)
        newest = len(segments) - 1
        # Strings, not paths: a timeline of months asks for tens of
        # thousands of segments, which are read only once.
        chosen = [
            (str(segments[place].mjpeg)[: -len(SEGMENT)] + ACTIVITY, place != newest)
            for place in range(first, stop)
        ]
        work = partial(self._gather, chosen, fine=fine)

        def reduce(gathered: tuple[bytes, list[tuple[str, str]]]) -> Peaks:
            data, unreadable = gathered
            self._report(chosen, unreadable)
            width = 1.0 if fine else MINUTE
            return Peaks(start, step, bucket_peaks(data, start, step, buckets, width))

        return self._work(work).addCallback(reduce)

    def _gather(
        self, chosen: list[tuple[str, bool]], *, fine: bool
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """
        The records of the C{.act} files C{chosen} (each its path and
        whether its segment is closed), every second's if C{fine}, else
        each minute's; and those that could not be read, with why. Runs in
        a thread.
        """
        parts = []
        unreadable = []
        for path, closed in chosen:
            try:
                parts.append(self._records(path, closed, fine=fine))
            except OSError as error:
                unreadable.append((path, error.strerror or str(error)))
        return b"".join(parts), unreadable

    def _records(self, path: str, closed: bool, *, fine: bool) -> bytes:
        """
        The records of the C{.act} file at C{path}: from the cache if its
        segment was closed when it was read, or if its size is the same.
        """
        cache = self._seconds if fine else self._minutes
        known = cache.get(path)
        if known is not None and known.closed:
            return known.data
        file = Path(path)
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            size = -1
        if known is not None and known.size == size:
            if closed:
                cache.put(path, _Read(size, closed, known.data))
            return known.data
        try:
            raw = b"" if size < 0 else self._read(file)
        except FileNotFoundError:
            raw = b""
        seconds = whole_records(raw)
        size = len(raw) if size >= 0 else -1
        minutes = per_minute(seconds)
        self._minutes.put(path, _Read(size, closed, minutes))
        if fine:
            self._seconds.put(path, _Read(size, closed, seconds))
            return seconds
        return minutes

    def _report(
        self, chosen: list[tuple[str, bool]], unreadable: list[tuple[str, str]]
    ) -> None:
        """
        Log the files that could not be read, once each until they are
        read again.
        """
        failed = {path for path, _ in unreadable}
        if self._reported:
            self._reported -= {path for path, _ in chosen} - failed
        for path, why in unreadable:
            if path not in self._reported:
                self._reported.add(path)
                self._log.warn(
                    "activity file {path} cannot be read: {why}", path=path, why=why
                )


def whole_records(raw: bytes) -> bytes:
    """
    The whole records of the bytes of a C{.act} file, without any cut short
    after the last, and without any that cannot be a second's (a time or
    score that is not a number), scores kept from 0 to 1.
    """
    records = np.frombuffer(raw, RECORDS, count=len(raw) // RECORDS.itemsize)
    good = np.isfinite(records["start"]) & np.isfinite(records["score"])
    if good.all() and ((records["score"] >= 0) & (records["score"] <= 1)).all():
        return raw[: records.nbytes]
    kept = records[good].copy()
    kept["score"] = np.clip(kept["score"], 0.0, 1.0)
    return bytes(kept.tobytes())


def per_minute(seconds: bytes) -> bytes:
    """
    The peak of each minute of the records C{seconds}, in time order, as
    records whose start is the minute's.
    """
    records = np.frombuffer(seconds, RECORDS)
    if not len(records):
        return b""
    minutes = np.floor(records["start"] / MINUTE) * MINUTE
    firsts = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1]])
    summary = np.empty(len(firsts), RECORDS)
    summary["start"] = minutes[firsts]
    summary["score"] = np.maximum.reduceat(records["score"], firsts)
    return summary.tobytes()


def bucket_peaks(
    data: bytes, start: float, step: float, buckets: int, width: float
) -> list[float | None]:
    """
    The highest score of the records C{data} (each C{width} seconds long)
    in each of C{buckets} buckets of C{step} seconds from C{start}, to 4
    decimals; L{None} for a bucket with none.
    """
    records = np.frombuffer(data, RECORDS)
    times = records["start"]
    end = start + step * buckets
    inside = (times + width > start) & (times <= end)
    places = np.clip(np.floor((times[inside] - start) / step), 0, buckets - 1).astype(
        np.intp
    )
    peaks = np.full(buckets, -1.0)
    np.maximum.at(peaks, places, records["score"][inside].astype(np.float64))
    return [None if peak < 0 else round(float(peak), 4) for peak in peaks]
