# -*- test-case-name: tests.test_recording_service -*-
"""
Retention run every few seconds in a thread, and what it finds: the bytes
each camera's recording holds, and whether the disk is below its floor.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from attrs import frozen
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure

    from camserve.recording._recorder import Recorder
    from camserve.recording._retention import Limits, Retention, Swept
    from camserve.recording._writer_jobs import InThread


@frozen
class Plan:
    """
    What a sweep keeps: a recordings folder's cameras' limits, and the
    bytes to keep free on its disk.
    """

    root: Path
    limits: Mapping[str, Limits]
    min_free_bytes: int


class Sweeps:
    """
    Sweeps a recordings folder with a L{Retention} every C{interval}
    seconds, in a thread, one sweep at a time; counts the bytes each
    camera's recording holds (those found by the last sweep, and those its
    recorder wrote since), and tells when the disk goes below its floor
    with nothing more to delete, and when it has space again.

    All methods are called in the reactor thread.

    @ivar low: whether the last sweep found the disk below its floor.
    """

    _log = Logger()

    def __init__(
        self,
        retention: Retention,
        clock: IReactorTime,
        in_thread: InThread,
        *,
        plan: Callable[[], Plan | None],
        recorders: Callable[[], Mapping[str, Recorder]],
        low: Callable[[bool], None],
        interval: float,
        wall_clock: Callable[[], float],
    ) -> None:
        """
        @param plan: what the next sweep keeps; L{None} for no sweep.
        @param recorders: the recorders writing now, by camera.
        @param low: called when the disk goes below the floor (with
            C{True}) and when it has space again.
        @param interval: seconds between sweeps.
        @param wall_clock: the time, Unix seconds, that ages are counted to.
        """
        self._retention = retention
        self._in_thread = in_thread
        self._plan = plan
        self._recorders = recorders
        self._low_changed = low
        self._interval = interval
        self._wall_clock = wall_clock
        self._loop = LoopingCall(self.sweep)
        self._loop.clock = clock
        self._sweeping: Deferred[Swept] | None = None
        self._usage: dict[str, int] = {}
        self._counted: dict[str, tuple[Recorder, int]] = {}
        self._error: str | None = None
        self.low = False

    def start(self) -> None:
        """
        Sweep now, and every interval from now on.
        """
        if not self._loop.running:
            self._loop.start(self._interval, now=True)

    def stop(self) -> Deferred[Any] | None:
        """
        Sweep no more; the sweep running now, if one is.
        """
        if self._loop.running:
            self._loop.stop()
        return self._sweeping

    def usage(self, name: str) -> int:
        """
        The bytes camera C{name}'s recording holds: what the last sweep
        found, and what its recorder wrote since.
        """
        found = self._usage.get(name, 0)
        recorder = self._recorders().get(name)
        if recorder is None:
            return found
        counted, before = self._counted.get(name, (None, 0))
        return found + recorder.bytes_written - (before if counted is recorder else 0)

    def sweep(self) -> Deferred[Any] | None:
        """
        Delete what retention asks to, in a thread, unless a sweep runs.
        """
        plan = self._plan()
        if plan is None or self._sweeping is not None:
            return None
        counted = {
            name: (recorder, recorder.bytes_written)
            for name, recorder in self._recorders().items()
        }
        job = partial(
            self._retention.sweep,
            plan.root,
            plan.limits,
            plan.min_free_bytes,
            self._wall_clock(),
        )
        sweeping = self._sweeping = self._in_thread(job)
        sweeping.addCallbacks(self._swept, self._failed, callbackArgs=(counted, plan))
        return sweeping

    def _swept(
        self, swept: Swept, counted: dict[str, tuple[Recorder, int]], plan: Plan
    ) -> None:
        self._sweeping = None
        self._usage = dict(swept.usage)
        self._counted = counted
        if swept.deleted:
            self._log.info(
                "recordings: deleted {count} old segments, {first} first",
                count=len(swept.deleted),
                first=str(swept.deleted[0]),
            )
        error = swept.errors[0] if swept.errors else None
        if error is not None and error != self._error:
            self._log.error("recordings: retention {error}", error=error)
        self._error = error
        if swept.low == self.low:
            return
        self.low = swept.low
        if swept.low:
            self._log.warn(
                "recordings: less than {floor} bytes free on the disk of {root},"
                " and nothing more to delete: recording waits for space",
                floor=plan.min_free_bytes,
                root=str(plan.root),
            )
        else:
            self._log.info(
                "recordings: the disk of {root} has space again: recording goes on",
                root=str(plan.root),
            )
        self._low_changed(swept.low)

    def _failed(self, failure: Failure) -> None:
        self._sweeping = None
        self._log.failure("recordings: retention failed", failure)
