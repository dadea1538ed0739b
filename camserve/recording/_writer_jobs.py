# -*- test-case-name: tests.test_recorder -*-
"""
The jobs of a camera's writer thread, one at a time, and what comes of
them: frames written and counted, the files flushed to the disk about once
a second, and writing that fails tried again every few seconds.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from twisted.logger import Logger

from camserve.recording._segment_writer import Written

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.python.failure import Failure

    from camserve._frame import Frame
    from camserve.recording._segment_writer import SegmentWriter

_Result = TypeVar("_Result")


class InThread(Protocol):
    """
    Runs a job in a thread of the recordings', firing with what it returns
    (or fails with) in the reactor thread.
    """

    def __call__(self, job: Callable[[], _Result]) -> Deferred[_Result]:
        """
        Run C{job}.
        """


class WriterJobs:
    """
    Hands a L{SegmentWriter} its jobs in its thread, one at a time: frames
    to write, the end of a segment, and flushes. Frames written are
    flushed to the disk within about C{sync_interval} seconds, by the next
    job or, if none comes, a flush of their own.

    A job that fails stops the writing (frames given meanwhile are lost,
    and counted), logged once with why; while L{retry} is true, writing is
    tried again every C{retry_interval} seconds, with the next frames.

    All methods are called in the reactor thread.

    @ivar retry: whether writing is tried again after it fails.
    @ivar open: whether a segment is open: frames were written since the
        last end of a segment.
    @ivar failed: whether the last job failed (and no frames were written
        since).
    @ivar frames_written: frames written since it was made.
    @ivar bytes_written: bytes written since it was made.
    @ivar lost: frames given that were not written: writing failed.
    @ivar last_error: why writing last failed, in one line; L{None} if it
        never did.
    """

    _log = Logger()

    def __init__(
        self,
        name: str,
        writer: SegmentWriter,
        clock: IReactorTime,
        in_thread: InThread,
        finished: Callable[[], None],
        *,
        sync_interval: float,
        retry_interval: float,
    ) -> None:
        """
        @param name: the camera's name, for logs.
        @param writer: what the jobs call, in the writer thread.
        @param clock: times the flushes and the retries.
        @param in_thread: runs a job in the writer thread, firing with what
            it returns.
        @param finished: called after each job has finished.
        @param sync_interval: seconds between flushes of the files.
        @param retry_interval: seconds between tries after writing failed.
        """
        self._name = name
        self._writer = writer
        self._clock = clock
        self._in_thread = in_thread
        self._finished = finished
        self._sync_interval = sync_interval
        self._retry_interval = retry_interval
        self.retry = False
        self.open = False
        self.failed = False
        self.frames_written = 0
        self.bytes_written = 0
        self.lost = 0
        self.last_error: str | None = None
        self._retrying = False
        self._job: Deferred[Written] | None = None
        self._unsynced = False
        self._last_sync = clock.seconds()
        self._sync_call: IDelayedCall | None = None
        self._retry_call: IDelayedCall | None = None

    @property
    def busy(self) -> bool:
        """
        Whether a job is running.
        """
        return self._job is not None

    def write(
        self,
        frames: Sequence[Frame],
        splits: set[int],
        segment_seconds: float,
        activity: Sequence[tuple[float, float]] = (),
    ) -> None:
        """
        Write C{frames}, and the seconds of C{activity} (see
        L{SegmentWriter.write}); while writing has failed and is not being
        tried again, lose them.
        """
        if self.failed and not self._retrying:
            self.lost += len(frames)
            return
        sync = self._clock.seconds() - self._last_sync >= self._sync_interval
        job = partial(
            self._writer.write,
            frames,
            segment_seconds=segment_seconds,
            splits=splits,
            sync=sync,
            activity=activity,
        )
        self._run(job, frames=len(frames), sync=sync)

    def end_segment(self) -> None:
        """
        End the segment: its files flushed and closed.
        """
        self._run(self._writer.end_segment, ends=True)

    def forgive(self) -> None:
        """
        Forget that writing failed, and try no more: the recording stopped.
        """
        self.failed = self._retrying = self.retry = False
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        self._retry_call = None

    def close(self) -> None:
        """
        Time nothing more.
        """
        self.forgive()
        if self._sync_call is not None and self._sync_call.active():
            self._sync_call.cancel()
        self._sync_call = None

    def _run(
        self,
        job: Callable[[], Written],
        *,
        frames: int = 0,
        sync: bool = True,
        ends: bool = False,
    ) -> None:
        """
        Run C{job} in the writer thread: one that writes C{frames} frames,
        flushes the files if C{sync}, and ends the segment if C{ends}.
        """
        running = self._job = self._in_thread(job)
        running.addErrback(self._bug).addCallback(self._done, frames, sync, ends)

    def _bug(self, failure: Failure) -> Written:
        self._log.failure(
            "camera {name}: the recording's writer failed", failure, name=self._name
        )
        return Written(error=f"its writer failed: {failure.getErrorMessage()}")

    def _done(self, written: Written, frames: int, synced: bool, ends: bool) -> None:
        self._job = None
        self.frames_written += written.frames
        self.bytes_written += written.size
        if written.error is not None:
            self.lost += frames - written.frames
            # The writer abandoned its segment, or (a bug) may still hold it
            # open: ending it either way closes it, or does nothing.
            self.open, self._unsynced = True, False
            self._writing_failed(written.error)
        else:
            self.open = (self.open or written.frames > 0) and not ends
            if synced:
                self._last_sync = self._clock.seconds()
            self._unsynced = (
                self.open and (self._unsynced or written.frames > 0) and not synced
            )
            if self.failed and self._retrying and written.frames:
                self.failed = self._retrying = False
                self._log.info("camera {name}: recording again", name=self._name)
            self._flush_later()
        self._finished()

    def _flush_later(self) -> None:
        """
        Flush the files within the flush interval of the last flush, if
        frames written since are not flushed.
        """
        if not self._unsynced or (
            self._sync_call is not None and self._sync_call.active()
        ):
            return
        due = self._last_sync + self._sync_interval - self._clock.seconds()
        self._sync_call = self._clock.callLater(max(0.0, due), self._flush)

    def _flush(self) -> None:
        self._sync_call = None
        # A job running now flushes if it is time, or calls _flush_later.
        if self._job is None and self._unsynced:
            self._run(self._writer.sync)

    def _writing_failed(self, error: str) -> None:
        # Once until it works again: each try fails on a file of its own.
        if not self.failed:
            self._log.error(
                "camera {name}: recording stopped: {error};"
                " trying again every {retry:g} s",
                name=self._name,
                error=error,
                retry=self._retry_interval,
            )
        self.failed, self._retrying = True, False
        self.last_error = error
        if self.retry and (self._retry_call is None or not self._retry_call.active()):
            self._retry_call = self._clock.callLater(self._retry_interval, self._retry)

    def _retry(self) -> None:
        self._retry_call = None
        if self.failed:
            self._retrying = True
