# -*- test-case-name: tests.test_recorder -*-
"""
A camera's recorder: every frame its camera gives, written to disk in its
writer thread at the disk's pace, across reloads that make the camera
again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.logger import Logger

from camserve.camera._events import CameraEvent
from camserve.camera._frame_queue import CameraClosed, FrameQueue
from camserve.camera._states import CameraUnavailable
from camserve.recording._modes import RecordingState
from camserve.recording._writer_jobs import WriterJobs

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure

    from camserve._frame import Frame
    from camserve.camera._handles import CameraHandle
    from camserve.recording._activity_watch import ActivityWatch
    from camserve.recording._modes import RecordingSettings
    from camserve.recording._segment_writer import SegmentWriter
    from camserve.recording._writer_jobs import InThread

RECORDER = "recorder"
"""The C{kind} of a recorder's frame queue, as its camera counts it."""


class _RecorderQueue(FrameQueue):
    """
    A recorder's frame queue: the camera's shutdown waits until its frames
    are on the disk and the segment's files closed, not only taken.
    """

    def __init__(self, size: int, done: Callable[[], Deferred[None]]) -> None:
        super().__init__(RECORDER, size)
        self._done = done

    def camera_closed(self) -> Deferred[None]:
        """
        No more frames will come: fires once the recorder has written those
        queued and closed its segment.
        """
        done = self._done()
        super().camera_closed()
        return done


class Recorder:
    """
    Records one camera, followed by name through its L{CameraHandle}.

    While it records, a frame queue of its own is subscribed to the camera
    (which keeps the camera running with no viewer, and asks it for every
    frame): the recorder takes the frames queued, a batch at a time, and
    hands each batch to its writer thread, one job at a time, so that
    neither the reactor nor the capture thread waits for the disk. A disk
    slower than the camera fills the queue, which then drops its oldest
    frames (counted): the recording loses them, the viewers nothing.

    A segment ends when the camera is made again by a reload (the
    recording goes on in the new camera's frames), fails or stops, when
    the recording stops, and when the camera is removed or shut down,
    whose shutdown waits for the recorder's files to be closed. The files
    are flushed to the disk about once a second.

    Writing that fails (a full disk, a folder that cannot be written)
    stops the recording, logged once with why, and it is tried again every
    C{retry_interval} seconds (the camera kept running meanwhile) until
    writing works again. While the recordings' disk is below the server's
    free-space floor (L{disk_low}), the recording waits.

    All methods are called in the reactor thread.

    @ivar settings: how the camera records; its segment length and limits
        may be changed in place, which the next segment follows.
    """

    _log = Logger()

    def __init__(
        self,
        handle: CameraHandle,
        settings: RecordingSettings,
        writer: SegmentWriter,
        clock: IReactorTime,
        in_thread: InThread,
        *,
        queue_size: int = 64,
        batch: int = 16,
        sync_interval: float = 1.0,
        retry_interval: float = 5.0,
        watch: ActivityWatch | None = None,
    ) -> None:
        """
        @param handle: the camera to record.
        @param writer: writes the camera's segments, in its thread.
        @param clock: times the flushes and the retries.
        @param in_thread: runs a job of C{writer} in the camera's writer
            thread, firing with what it returns.
        @param queue_size: the most frames waiting for the writer.
        @param batch: the most frames handed to the writer in one job.
        @param sync_interval: seconds between flushes of the files to disk.
        @param retry_interval: seconds between tries after writing failed.
        @param watch: analyses the frames taken, for the activity files, and
            picks those written, recording on motion.
        """
        self.name = handle.name
        self.settings = settings
        self._handle = handle
        self._queue_size = queue_size
        self._batch = batch
        self._watch = watch
        self._jobs = WriterJobs(
            handle.name,
            writer,
            clock,
            in_thread,
            self._pump,
            sync_interval=sync_interval,
            retry_interval=retry_interval,
        )
        self._wanted = False
        self._closed = False
        self._disk_low = False
        self._queue: _RecorderQueue | None = None
        self._lost = 0
        self._taken = 0
        self._splits: list[int] = []
        self._draining = False
        self._getting: Deferred[Frame] | None = None
        self._done: list[Deferred[None]] = []
        self._pumping = False
        self._again = False
        handle.follow(self._heard)

    # What it does

    @property
    def state(self) -> RecordingState:
        """
        What the recording is doing now.
        """
        if not self._wanted:
            return RecordingState.OFF
        if self._disk_low:
            return RecordingState.WAITING_FOR_DISK
        if self._jobs.failed:
            return RecordingState.FAILED
        if self._watch is not None and self._watch.resting:
            return RecordingState.WAITING_FOR_MOTION
        return RecordingState.RECORDING

    @property
    def frames_written(self) -> int:
        """
        Frames written since the recorder was made.
        """
        return self._jobs.frames_written

    @property
    def bytes_written(self) -> int:
        """
        Bytes written since the recorder was made.
        """
        return self._jobs.bytes_written

    @property
    def last_error(self) -> str | None:
        """
        Why writing last failed, in one line; L{None} if it never did.
        """
        return self._jobs.last_error

    @property
    def frames_dropped(self) -> int:
        """
        Frames the camera gave while recording that the recording lost: its
        queue was full (the disk too slow), or writing failed or waited.
        """
        queue = self._queue
        lost = self._lost + self._jobs.lost
        return lost + (0 if queue is None else queue.dropped)

    def report(self) -> dict[str, Any]:
        """
        The recording's C{mode}, C{state}, C{frames_written},
        C{frames_dropped} and C{last_error}, JSON-ready.
        """
        return {
            "mode": self.settings.mode.value,
            "state": self.state.value,
            "frames_written": self.frames_written,
            "frames_dropped": self.frames_dropped,
            "last_error": self.last_error,
        }

    # Asked of it

    def start(self) -> None:
        """
        Record from now on, until L{stop}.
        """
        if self._closed or self._wanted:
            return
        self._wanted = self._jobs.retry = True
        self._log.info("camera {name}: recording", name=self.name)
        self._subscribe()

    def stop(self) -> Deferred[None]:
        """
        Stop recording; the camera may go idle.

        @return: fires once the frames taken are on the disk and the
            segment's files are closed.
        """
        if self._wanted:
            self._log.info("camera {name}: recording stopped", name=self.name)
        self._wanted = False
        self._jobs.forgive()
        self._drain()
        return self._when_done()

    def close(self) -> Deferred[None]:
        """
        Stop recording for good, and follow the camera no more.

        @return: as L{stop}'s.
        """
        self._closed = True
        if self._watch is not None:
            self._watch.finish()
        self._handle.unfollow(self._heard)
        done = self.stop()
        self._jobs.close()
        return done

    def disk_low(self, low: bool) -> None:
        """
        Whether the recordings' disk is below the free-space floor with
        nothing more to delete: the recording waits until it is not, its
        segment closed meanwhile.
        """
        if low == self._disk_low:
            return
        self._disk_low = low
        if low:
            self._pump()

    # The camera

    def _heard(self, event: CameraEvent, handle: CameraHandle) -> None:  # noqa: ARG002 - a listener's signature
        if event is CameraEvent.ADDED:
            self._subscribe()
        elif event in (CameraEvent.REPLACED, CameraEvent.FAILED, CameraEvent.STOPPED):
            # The frames from here on are another run's, if not another
            # camera's: they start a segment of their own.
            queue = self._queue
            if queue is not None:
                self._splits.append(self._taken + len(queue) + queue.dropped)

    def _subscribe(self) -> None:
        if not self._wanted or self._queue is not None or self._handle.hub is None:
            return
        queue = _RecorderQueue(self._queue_size, self._when_done)
        try:
            self._handle.subscribe(queue)
        except (KeyError, CameraUnavailable):
            return
        self._queue, self._taken, self._splits = queue, 0, []
        self._draining = False
        self._pump()

    def _drain(self) -> None:
        """
        Take the queue off the camera, to write what it holds.
        """
        queue = self._queue
        if queue is None or self._draining:
            return
        self._draining = True
        self._handle.unsubscribe(queue)
        if self._getting is not None:
            # It waits: nothing is queued.
            self._getting.cancel()
        self._pump()

    def _when_done(self) -> Deferred[None]:
        """
        Fires once the queue is gone, its frames written and the segment
        closed; at once if it is so now.
        """
        if self._idle():
            return succeed(None)
        done: Deferred[None] = Deferred()
        self._done.append(done)
        return done

    def _idle(self) -> bool:
        jobs = self._jobs
        return self._queue is None and not jobs.busy and not jobs.open

    # Frames to the writer

    def _pump(self) -> None:
        """
        Give the writer its next job, if it has none: frames, the end of
        its segment, or a flush.
        """
        # A job run at once (in tests) finishes inside this call, which
        # calls it again: go round rather than deeper.
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._step()
        finally:
            self._pumping = False

    def _step(self) -> None:
        jobs = self._jobs
        if jobs.busy:
            return
        resting = self._watch is not None and self._watch.resting
        if jobs.open and (self._disk_low or resting):
            jobs.end_segment()
            return
        if self._getting is not None:
            return
        queue = self._queue
        if queue is not None and (len(queue) or not self._draining):
            self._getting = queue.get()
            self._getting.addCallbacks(self._got, self._get_failed)
            return
        if queue is not None:
            # Drained: every frame it held is written, or being written.
            self._queue = None
            self._lost += queue.dropped
        if jobs.open:
            jobs.end_segment()
            return
        if self._wanted and not self._closed:
            self._subscribe()
        if self._idle():
            done, self._done = self._done, []
            for each in done:
                each.callback(None)

    def _got(self, frame: Frame) -> None:
        self._getting = None
        queue = self._queue
        assert queue is not None  # noqa: S101 - a frame comes only from the queue
        frames = [frame]
        while len(queue) and len(frames) < self._batch:
            queue.get().addCallback(frames.append)
        # Frames are taken, and dropped, oldest first: this is how many came
        # before the first of these.
        first = self._taken + queue.dropped
        self._taken += len(frames)
        splits = set()
        while self._splits and self._splits[0] < first + len(frames):
            splits.add(max(0, self._splits.pop(0) - first))
        seconds: list[tuple[float, float]] = []
        if self._watch is not None:
            frames, splits = self._watch.take(frames, splits)
            seconds = self._watch.analysis.take_seconds() if frames else []
        if self._disk_low:
            self._lost += len(frames)
        elif frames:
            self._jobs.write(frames, splits, self.settings.segment_seconds, seconds)
        self._pump()

    def _get_failed(self, failure: Failure) -> None:
        self._getting = None
        if failure.check(CameraClosed):
            self._draining = True
        elif not failure.check(CancelledError):
            self._log.failure("camera {name}: recording", failure, name=self.name)
        self._pump()
