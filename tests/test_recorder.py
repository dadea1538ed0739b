"""
Tests for L{camserve.recording._recorder}: a camera's recorder, following
a camera of a real L{CameraService} on a C{Clock}, writing real files in a
writer "thread" that runs each job when the test says (or at once).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recording_files import check_whole, read_camera, segments
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

import camserve.recording._segment_writer
from camserve import CameraService, IFrameSink
from camserve.recording._modes import RecordingMode, RecordingSettings, RecordingState
from camserve.recording._open_segments import OpenSegments
from camserve.recording._recorder import Recorder
from camserve.recording._segment_writer import SegmentWriter
from camserve.testing import PushSource, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest
    from support import LogRecorder

    from camserve import Frame

_RESULTS = SynchronousTestCase()
START = 1_700_000_000.0
CONTINUOUS = RecordingSettings(RecordingMode.CONTINUOUS)


class WriterThread:
    """
    A writer thread run by hand: jobs wait until L{run} (or, if C{at_once},
    run as they are given).
    """

    def __init__(self, *, at_once: bool = True) -> None:
        self.at_once = at_once
        self.jobs: list[tuple[Callable[[], Any], Deferred[Any]]] = []

    def __call__(self, job: Callable[[], Any]) -> Deferred[Any]:
        if self.at_once:
            return maybeDeferred(job)
        waiting: Deferred[Any] = Deferred()
        self.jobs.append((job, waiting))
        return waiting

    def run(self) -> int:
        """
        Run the jobs waiting, and those they lead to; how many ran.
        """
        ran = 0
        while self.jobs:
            job, waiting = self.jobs.pop(0)
            waiting.callback(job())
            ran += 1
        return ran


@implementer(IFrameSink)
class Viewer:
    kind = "viewer"

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def send_frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def camera_closed(self) -> None:
        pass


class Recording:
    """
    A camera C{porch} of a camera service on a clock, recorded into
    C{root}.
    """

    def __init__(
        self,
        root: Path,
        *,
        settings: RecordingSettings = CONTINUOUS,
        at_once: bool = True,
        queue_size: int = 64,
        idle_timeout: float = 10.0,
    ) -> None:
        self.root = root
        self.clock = Clock()
        self.clock.advance(START)
        self.cameras = CameraService(self.clock)
        self.source = PushSource()
        self.hub = self.cameras.add_source(
            "porch", self.source, idle_timeout=idle_timeout
        )
        self.thread = WriterThread(at_once=at_once)
        self.open = OpenSegments()
        self.recorder = Recorder(
            self.cameras.camera("porch"),
            settings,
            SegmentWriter(root, "porch", self.open),
            self.clock,
            self.thread,
            queue_size=queue_size,
        )
        self.pushed: list[bytes] = []

    def push(self, count: int = 1, fps: float = 10) -> None:
        """
        The camera gives C{count} frames, C{1 / fps} apart.
        """
        for _ in range(count):
            number = len(self.pushed)
            jpeg = make_jpeg(number)
            self.source.push(jpeg, START + number / fps)
            self.pushed.append(jpeg)
            self.clock.advance(1 / fps)

    def recorded(self) -> list[bytes]:
        return [frame.jpeg for frame in read_camera(self.root, "porch")]


def test_it_records_every_frame_and_keeps_the_camera_running(tmp_path: Path) -> None:
    """
    A recorder that starts keeps its camera running with no viewer, as a
    consumer of kind C{recorder}, and writes every frame the camera gives;
    stopping it closes the segment with every frame in it, and the camera
    stops after its idle timeout.
    """
    recording = Recording(tmp_path, idle_timeout=3.0)
    assert recording.recorder.state is RecordingState.OFF
    assert not recording.source.running
    recording.recorder.start()
    assert recording.source.running
    assert recording.hub.consumers == {"recorder": 1}
    assert recording.hub.viewers == 0
    recording.push(25)
    assert recording.recorder.state is RecordingState.RECORDING
    assert _RESULTS.successResultOf(recording.recorder.stop()) is None
    assert recording.recorded() == recording.pushed
    assert recording.recorder.report() == {
        "mode": "continuous",
        "state": "off",
        "frames_written": 25,
        "frames_dropped": 0,
        "last_error": None,
    }
    assert recording.hub.consumers == {}
    recording.clock.advance(3.0)
    assert recording.source.stop_requested


def test_the_files_are_flushed_about_once_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Frames written are flushed to the disk with the first batch a second or
    more after the last flush, and, when no more come, a second after it.
    """
    synced: list[float] = []
    recording = Recording(tmp_path)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if str(Path(f"/proc/self/fd/{fd}").readlink()).endswith(".mjpeg"):
            synced.append(round(recording.clock.seconds() - START, 3))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    recording.recorder.start()
    recording.push(20, fps=8)  # 2.5 s of frames
    assert synced == [1.0, 2.0]
    recording.clock.advance(0.4)
    assert synced == [1.0, 2.0]
    recording.clock.advance(0.1)
    assert synced == [1.0, 2.0, 3.0]
    recording.clock.advance(5)
    assert synced == [1.0, 2.0, 3.0]


def test_a_slow_disk_costs_the_recording_frames_not_the_viewers(
    tmp_path: Path,
) -> None:
    """
    While the writer is busy the camera's frames wait in the recorder's
    queue; beyond its size the oldest are dropped from the recording and
    counted. Viewers get every frame all the same, and the recording goes
    on with the newest.
    """
    recording = Recording(tmp_path, at_once=False, queue_size=4)
    viewer = Viewer()
    recording.hub.subscribe(viewer)
    recording.recorder.start()
    recording.push(10)
    assert len(recording.thread.jobs) == 1  # the first frame, being written
    assert recording.recorder.frames_dropped == 5
    assert len(viewer.frames) == 10
    recording.thread.run()
    done = recording.recorder.stop()
    recording.thread.run()
    assert _RESULTS.successResultOf(done) is None
    # The first frame, then the newest four.
    assert recording.recorded() == [recording.pushed[0], *recording.pushed[6:]]
    report = recording.recorder.report()
    assert (report["frames_written"], report["frames_dropped"]) == (5, 5)


def test_a_replaced_camera_records_on_in_a_new_segment(tmp_path: Path) -> None:
    """
    A camera made again (a reload that changed it) is followed: the frames
    the old camera gave end their segment, and the new camera's start
    another, the recorder subscribed to it in the old one's place.
    """
    recording = Recording(tmp_path, at_once=False)
    recording.recorder.start()
    recording.push(3)
    replacing = recording.cameras.replace_driver("porch", new := PushSource())
    recording.source.finish_stop()
    hub = _RESULTS.successResultOf(replacing)
    assert hub.consumers == {"recorder": 1}
    recording.source = new
    recording.push(2)
    recording.thread.run()
    _RESULTS.successResultOf(_stopped(recording))
    first, second = segments(tmp_path, "porch")
    assert [each.jpeg for each in check_whole(first)] == recording.pushed[:3]
    assert [each.jpeg for each in check_whole(second)] == recording.pushed[3:]


def test_a_failed_camera_starts_a_new_segment(tmp_path: Path) -> None:
    """
    The frames after a camera failed and came back are a segment of their
    own.
    """
    recording = Recording(tmp_path)
    recording.recorder.start()
    recording.push(2)
    recording.source.fail(OSError("unplugged"))
    recording.clock.advance(1.0)  # its backoff
    assert recording.source.running
    recording.push(2)
    _RESULTS.successResultOf(recording.recorder.stop())
    first, second = segments(tmp_path, "porch")
    assert [each.jpeg for each in check_whole(first)] == recording.pushed[:2]
    assert [each.jpeg for each in check_whole(second)] == recording.pushed[2:]


def _stopped(recording: Recording) -> Deferred[None]:
    done = recording.recorder.stop()
    recording.thread.run()
    return done


def test_a_removed_camera_waits_for_its_files(tmp_path: Path) -> None:
    """
    Removing a camera closes its recording cleanly: the camera's release
    waits until its last frames are written and the segment closed.
    """
    recording = Recording(tmp_path, at_once=False)
    recording.recorder.start()
    recording.push(3)
    removed = recording.cameras.remove_camera("porch")
    recording.source.finish_stop()
    _RESULTS.assertNoResult(removed)
    recording.thread.run()
    assert _RESULTS.successResultOf(removed) is None
    assert recording.recorded() == recording.pushed
    (segment,) = segments(tmp_path, "porch")
    assert segment.with_suffix("") not in recording.open
    # Added again, the camera is recorded again, in a new segment.
    again = recording.cameras.add_source("porch", new := PushSource())
    assert again.consumers == {"recorder": 1}
    recording.source = new
    recording.push(1)
    _RESULTS.successResultOf(_stopped(recording))
    assert len(segments(tmp_path, "porch")) == 2


def test_the_service_stopping_waits_for_the_files(tmp_path: Path) -> None:
    """
    The camera service's shutdown waits for the recorder to write its last
    frames and close its files.
    """
    recording = Recording(tmp_path, at_once=False)
    recording.cameras.startService()
    recording.recorder.start()
    recording.push(4)
    stopping = recording.cameras.stopService()
    recording.source.finish_stop()
    _RESULTS.assertNoResult(stopping)
    recording.thread.run()
    _RESULTS.successResultOf(stopping)
    assert recording.recorded() == recording.pushed


# A disk that fails


def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Every write fails as on a full disk (a stand-in for one, at the one
    place a segment's bytes are written: a file system of its own to fill
    takes root to mount).
    """

    def write_all(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(camserve.recording._segment_writer, "write_all", write_all)


def test_a_full_disk_stops_the_recording_until_it_has_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log: LogRecorder
) -> None:
    """
    A disk that fills up stops the recording, with one line in the log and
    in the recorder's state; the camera keeps running and its viewers
    keep getting frames; it is tried again every retry interval, and
    records again once writing works, in a new segment.
    """
    recording = Recording(tmp_path)
    viewer = Viewer()
    recording.hub.subscribe(viewer)
    recording.recorder.start()
    recording.push(2, fps=8)
    full_disk(monkeypatch)
    # The third frame fails, at 0.25 s: tried again at 5.25 s.
    recording.push(30, fps=8)
    segment = segments(tmp_path, "porch")[0]
    error = f"cannot write {segment}: No space left on device"
    assert recording.recorder.report() == {
        "mode": "continuous",
        "state": "failed",
        "frames_written": 2,
        "frames_dropped": 30,
        "last_error": error,
    }
    assert len(viewer.frames) == 32
    # Tried again at 5.25 s, failing again (not logged again): next at 10.25 s.
    recording.push(30, fps=8)
    assert [line for line in log.formatted(LogLevel.error) if "recording" in line] == [
        f"camera porch: recording stopped: {error}; trying again every 5 s"
    ]
    monkeypatch.undo()
    recording.push(20, fps=8)
    assert recording.recorder.report()["state"] == "failed"
    recording.push(10, fps=8)
    assert recording.recorder.report()["state"] == "recording"
    assert recording.recorder.last_error != error
    assert str(recording.recorder.last_error).endswith(": No space left on device")
    assert "camera porch: recording again" in log.formatted(LogLevel.info)
    _RESULTS.successResultOf(recording.recorder.stop())
    first, second = segments(tmp_path, "porch")
    assert [each.jpeg for each in check_whole(first)] == recording.pushed[:2]
    assert [each.jpeg for each in check_whole(second)] == recording.pushed[82:]
    assert recording.recorder.frames_dropped == 80
    assert len(viewer.frames) == 92


def test_a_low_disk_makes_the_recording_wait(tmp_path: Path) -> None:
    """
    While the disk is below its floor the recording waits, its segment
    closed and the frames lost counted; it goes on in a new segment after.
    """
    recording = Recording(tmp_path)
    recording.recorder.start()
    recording.push(2)
    recording.recorder.disk_low(True)
    assert recording.recorder.state is RecordingState.WAITING_FOR_DISK
    (segment,) = segments(tmp_path, "porch")
    assert segment.with_suffix("") not in recording.open
    recording.push(3)
    recording.recorder.disk_low(False)
    recording.push(2)
    _RESULTS.successResultOf(recording.recorder.stop())
    first, second = segments(tmp_path, "porch")
    assert [each.jpeg for each in check_whole(first)] == recording.pushed[:2]
    assert [each.jpeg for each in check_whole(second)] == recording.pushed[5:]
    assert recording.recorder.frames_dropped == 3


def test_start_after_stop_records_again(tmp_path: Path) -> None:
    """
    A recording stopped and started again (on demand) records in a new
    segment; closed, it records no more.
    """
    recording = Recording(tmp_path, settings=RecordingSettings(RecordingMode.ON_DEMAND))
    recording.recorder.start()
    recording.push(2)
    recording.recorder.stop()
    recording.push(2)
    recording.recorder.start()
    recording.push(2)
    _RESULTS.successResultOf(recording.recorder.close())
    recording.recorder.start()
    assert recording.hub.consumers == {}
    first, second = segments(tmp_path, "porch")
    assert [each.jpeg for each in check_whole(first)] == recording.pushed[:2]
    assert [each.jpeg for each in check_whole(second)] == recording.pushed[4:]
