# -*- test-case-name: tests.test_catalog -*-
"""
A camera's recordings on disk as the catalog finds them: the segments in
its folder, and the worker that reads them away from the reactor.
"""

from __future__ import annotations

import re
from calendar import timegm
from time import strptime
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
_SEGMENT = re.compile(r"([0-9]{8}T[0-9]{6})\.([0-9]{3})Z\.mjpeg")


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
    @ivar mjpeg: the segment's path.
    @ivar idx: its index's path.
    @ivar loading: those waiting for its frames while they are being read;
        L{None} when they are not.
    """

    def __init__(self, folder: Path, name: str, start: float) -> None:
        self.name = name
        self.start = start
        self.mjpeg = folder / f"{name}.mjpeg"
        self.idx = folder / f"{name}.idx"
        self.frames: SegmentFrames | None = None
        self.growing = False
        self.loading: list[Deferred[SegmentFrames]] | None = None


def list_segments(folder: Path) -> list[tuple[str, float]]:
    """
    The segments in a camera's C{folder}: each one's name (its date folder
    and file name without suffix) and start, in time order.
    """
    found = []
    try:
        days = sorted(day.name for day in folder.iterdir() if _DAY.fullmatch(day.name))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for day in days:
        try:
            names = sorted(path.name for path in (folder / day).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            match = _SEGMENT.fullmatch(name)
            if match is not None:
                start = (
                    timegm(strptime(match[1], "%Y%m%dT%H%M%S")) + int(match[2]) / 1000
                )
                found.append((f"{day}/{name.removesuffix('.mjpeg')}", start))
    return found
