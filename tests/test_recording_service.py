"""
Tests for L{camserve.recording._service}: recording a camera service's
cameras as their settings say, on a C{Clock} with writer jobs run at once
(and once on the real reactor, in real threads), into real files.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import pytest
from recording_files import read_camera, segments
from support import reactor, reactor_test, wait_until
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from camserve import CameraService
from camserve.recording._modes import RecordingMode, RecordingSettings
from camserve.recording._service import RecordingRefusedError, RecordingService
from camserve.testing import PushSource, ScriptedCamera, make_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from support import LogRecorder

_RESULTS = SynchronousTestCase()
START = 1_700_000_000.0
CONTINUOUS = RecordingSettings(RecordingMode.CONTINUOUS)
ON_DEMAND = RecordingSettings(RecordingMode.ON_DEMAND)


def at_once(job: Callable[[], Any]) -> Any:
    return maybeDeferred(job)


class Served:
    """
    Cameras C{porch} and C{garage} of a camera service on a clock, and a
    recording service of them.
    """

    def __init__(self, root: Path, free: int = 10**12) -> None:
        self.root = root
        self.clock = Clock()
        self.clock.advance(START)
        self.free = free
        self.cameras = CameraService(self.clock)
        self.sources = {name: PushSource() for name in ("porch", "garage")}
        for name, source in self.sources.items():
            self.cameras.add_source(name, source)
        self.recordings = RecordingService(
            self.cameras,
            self.clock,
            in_thread=at_once,
            free_space=lambda _: self.free,
            wall_clock=self.clock.seconds,
        )
        self.pushed: dict[str, list[bytes]] = {"porch": [], "garage": []}

    def push(self, count: int = 1) -> None:
        """
        Each running camera gives C{count} frames, 0.125 s apart.
        """
        for _ in range(count):
            for name, source in self.sources.items():
                if source.running:
                    jpeg = make_jpeg(len(self.pushed[name]))
                    source.push(jpeg, self.clock.seconds())
                    self.pushed[name].append(jpeg)
            self.clock.advance(0.125)

    def recorded(self, name: str) -> list[bytes]:
        return [frame.jpeg for frame in read_camera(self.root, name)]


def test_continuous_cameras_record_from_the_start(tmp_path: Path) -> None:
    """
    A camera whose mode is continuous records from the service's start,
    with no viewer; one whose mode is off does not run. Stopping the
    service closes the files with every frame in them.
    """
    served = Served(tmp_path)
    served.recordings.configure(tmp_path, 0, {"porch": CONTINUOUS})
    assert not served.sources["porch"].running
    served.recordings.startService()
    assert served.sources["porch"].running
    assert not served.sources["garage"].running
    served.push(5)
    assert served.recordings.report("garage") == {
        "mode": "off",
        "state": "off",
        "frames_written": 0,
        "frames_dropped": 0,
        "last_error": None,
        "bytes": 0,
    }
    report = served.recordings.report("porch")
    assert (report["state"], report["frames_written"]) == ("recording", 5)
    _RESULTS.successResultOf(served.recordings.stopService())
    assert served.recorded("porch") == served.pushed["porch"]
    assert served.recordings.report("porch")["state"] == "off"


def test_the_bytes_recorded_are_counted(tmp_path: Path) -> None:
    """
    A camera's report counts the bytes its recording holds on the disk:
    what retention found there (older recordings too), and what was
    written since.
    """
    served = Served(tmp_path)
    old = tmp_path / "porch" / "2023-11-01" / "20231101T000000.000Z.mjpeg"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x" * 1000)
    served.recordings.configure(tmp_path, 0, {"porch": CONTINUOUS})
    served.recordings.startService()
    assert served.recordings.report("porch")["bytes"] == 1000
    served.push(8)
    report = served.recordings.report("porch")
    assert report["bytes"] == 1000 + served.recordings._writing()["porch"].bytes_written
    served.clock.advance(10)  # a sweep
    on_disk = sum(path.stat().st_size for path in tmp_path.rglob("*.*"))
    assert served.recordings.report("porch")["bytes"] == on_disk


def test_on_demand_records_when_asked(tmp_path: Path) -> None:
    """
    A camera recording on demand records from L{RecordingService.start} to
    L{RecordingService.stop}, after which it may go idle; others are
    refused, with why.
    """
    served = Served(tmp_path)
    served.recordings.configure(tmp_path, 0, {"porch": ON_DEMAND, "garage": CONTINUOUS})
    served.recordings.startService()
    assert not served.sources["porch"].running
    assert served.recordings.report("porch")["state"] == "off"
    served.recordings.start("porch")
    served.recordings.start("porch")
    assert served.recordings.report("porch")["state"] == "recording"
    served.push(3)
    _RESULTS.successResultOf(served.recordings.stop("porch"))
    assert served.recorded("porch") == served.pushed["porch"]
    served.clock.advance(10)
    assert served.sources["porch"].stop_requested
    with pytest.raises(
        RecordingRefusedError,
        match=r"^camera garage does not record on demand \(record = 'continuous'\)$",
    ):
        served.recordings.start("garage")
    with pytest.raises(KeyError):
        served.recordings.stop("shed")


def test_settings_changed_apply(tmp_path: Path) -> None:
    """
    Configured again, a camera whose mode changes gets a new recorder (its
    old one's segment closed first), one whose limits change keeps its
    own, and one left out stops recording; a new folder gets new recorders.
    """
    served = Served(tmp_path)
    served.recordings.configure(
        tmp_path, 0, {"porch": CONTINUOUS, "garage": CONTINUOUS}
    )
    served.recordings.startService()
    served.push(2)
    porch = served.recordings._writing()["porch"]
    limited = RecordingSettings(RecordingMode.CONTINUOUS, 60.0, max_bytes=10**9)
    _RESULTS.successResultOf(
        served.recordings.configure(
            tmp_path, 0, {"porch": limited, "garage": ON_DEMAND}
        )
    )
    assert served.recordings._writing()["porch"] is porch
    assert porch.settings == limited
    assert served.recordings.report("garage")["state"] == "off"
    assert len(segments(tmp_path, "garage")) == 1
    served.push(2)
    _RESULTS.successResultOf(
        served.recordings.configure(tmp_path / "elsewhere", 0, {"porch": limited})
    )
    assert served.recordings._writing()["porch"] is not porch
    served.push(2)
    _RESULTS.successResultOf(served.recordings.stopService())
    assert served.recorded("porch") == served.pushed["porch"][:4]
    assert served.recorded("garage") == served.pushed["garage"][:2]
    assert [frame.jpeg for frame in read_camera(tmp_path / "elsewhere", "porch")] == (
        served.pushed["porch"][4:]
    )


def test_a_camera_that_records_needs_a_folder(tmp_path: Path) -> None:
    """
    A camera cannot record into no folder.
    """
    served = Served(tmp_path)
    with pytest.raises(ValueError, match="camera porch records, but into no folder"):
        served.recordings.configure(None, 0, {"porch": CONTINUOUS})
    served.recordings.configure(None, 0, {"porch": RecordingSettings()})


def test_retention_runs_every_sweep_interval(tmp_path: Path) -> None:
    """
    Retention sweeps at the start and every ten seconds, deleting what a
    camera's limits ask to (never the segment being written), and says so.
    """
    served = Served(tmp_path)
    old = tmp_path / "porch" / "2023-11-01" / "20231101T000000.000Z.mjpeg"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x")
    os.utime(old, (START - 7200, START - 7200))
    served.recordings.configure(
        tmp_path,
        0,
        {"porch": RecordingSettings(RecordingMode.CONTINUOUS, max_age=3600)},
    )
    served.recordings.startService()
    assert not old.exists()
    served.push(80)  # ten seconds: the next sweep
    writing = segments(tmp_path, "porch")
    assert len(writing) == 1
    os.utime(writing[0], (START - 7200, START - 7200))
    served.clock.advance(10)
    assert segments(tmp_path, "porch") == writing


def test_a_disk_below_its_floor_makes_recording_wait(
    tmp_path: Path, log: LogRecorder
) -> None:
    """
    When a sweep leaves the disk below the free-space floor with nothing
    more to delete, every recording waits, logged once; once a sweep finds
    space again, they record again.
    """
    served = Served(tmp_path, free=10**6)
    served.recordings.configure(tmp_path, 2 * 10**6, {"porch": CONTINUOUS})
    served.recordings.startService()
    assert served.recordings.report("porch")["state"] == "waiting_for_disk"
    served.push(8)
    assert served.recordings.report("porch")["frames_dropped"] == 8
    assert log.formatted(LogLevel.warn) == [
        (
            f"recordings: less than 2000000 bytes free on the disk of {tmp_path},"
            " and nothing more to delete: recording waits for space"
        )
    ]
    served.free = 10**7
    served.push(80)
    assert served.recordings.report("porch")["state"] == "recording"
    assert (
        f"recordings: the disk of {tmp_path} has space again: recording goes on"
        in log.formatted(LogLevel.info)
    )
    _RESULTS.successResultOf(served.recordings.stopService())
    assert (
        served.recorded("porch")
        == served.pushed["porch"][-len(served.recorded("porch")) :]
    )
    assert 1 <= len(served.recorded("porch")) <= 8


def test_the_real_floor_of_a_real_disk(tmp_path: Path) -> None:
    """
    With the disk's real free space (statvfs) under a floor it cannot
    reach, every segment but the one being written is deleted and the
    recording waits.
    """
    clock = Clock()
    cameras = CameraService(clock)
    cameras.add_source("porch", source := PushSource())
    old = tmp_path / "porch" / "2023-11-01" / "20231101T000000.000Z.mjpeg"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x")
    recordings = RecordingService(cameras, clock, in_thread=at_once)
    recordings.configure(tmp_path, 2**62, {"porch": CONTINUOUS})
    recordings.startService()
    assert not old.exists()
    assert recordings.report("porch")["state"] == "waiting_for_disk"
    assert source.running


@reactor_test
async def test_recording_in_real_threads(tmp_path: Path) -> None:
    """
    On the real reactor, a camera captured in its thread is recorded in a
    writer thread of its own: every frame it gave is read back, and
    stopping the services closes the files and ends the threads.
    """
    cameras = CameraService(reactor)
    jpegs = [make_jpeg(number) for number in range(5)]
    cameras.add_camera("porch", ScriptedCamera(jpegs, fps=50))
    recordings = RecordingService(cameras, reactor)
    recordings.configure(tmp_path, 0, {"porch": CONTINUOUS})
    cameras.startService()
    recordings.startService()
    try:
        await wait_until(
            lambda: recordings.report("porch")["frames_written"] >= 20,
            "the camera is recorded",
        )
        names = {thread.name for thread in threading.enumerate()}
    finally:
        recorder = recordings._writing()["porch"]
        await recordings.stopService()
        await cameras.stopService()
    recorded = [frame.jpeg for frame in read_camera(tmp_path, "porch")]
    assert len(recorded) == recorder.frames_written
    assert recorded == [jpegs[number % 5] for number in range(len(recorded))]
    assert recorder.frames_dropped == 0
    ours = {"camserve-recording-porch", "camserve-retention"}
    assert ours <= names
    await wait_until(
        lambda: not {thread.name for thread in threading.enumerate()} & ours,
        "the writer's and retention's threads end",
    )
