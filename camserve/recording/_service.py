# -*- test-case-name: tests.test_recording_service -*-
"""
The service that records a camera service's cameras: their recorders,
their writer threads, and retention.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.logger import Logger

from camserve._defaults import MIN_FREE_BYTES
from camserve.recording._activity_watch import ActivityWatch
from camserve.recording._modes import RecordingMode, RecordingState
from camserve.recording._motion_log import MotionLog, list_events, motion_log_path
from camserve.recording._open_segments import OpenSegments
from camserve.recording._recorder import Recorder
from camserve.recording._retention import Limits, Retention, disk_free
from camserve.recording._segment_writer import SegmentWriter
from camserve.recording._sweeps import Plan, Sweeps
from camserve.recording._writer_thread import WriterThread

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from camserve.camera._service import CameraService
    from camserve.recording._modes import RecordingSettings
    from camserve.recording._writer_jobs import InThread


class RecordingRefusedError(ValueError):
    """
    A camera cannot start or stop recording as asked; the message says why,
    in one line.
    """


class RecordingService(Service):
    """
    Records the cameras of a L{CameraService} into a recordings folder,
    each as its settings say (see L{configure}), and keeps the folder
    within each camera's limits and the disk's free-space floor.

    Each recording camera has a L{Recorder} and a writer thread of its
    own; retention sweeps the folder every C{sweep_interval} seconds in a
    thread of its own. Stopping the service stops every recording, its last
    frames written and its files closed.

    All methods are called in the reactor thread.
    """

    _log = Logger()

    def __init__(
        self,
        cameras: CameraService,
        reactor: Any = None,
        *,
        sweep_interval: float = 10.0,
        retry_interval: float = 5.0,
        queue_size: int = 64,
        close_grace: float = 5.0,
        in_thread: InThread | None = None,
        free_space: Callable[[Path], int] = disk_free,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """
        @param cameras: the cameras to record, followed by name.
        @param reactor: provides C{IReactorTime} (and, unless C{in_thread}
            is given, C{IReactorFromThreads}); the global reactor by
            default.
        @param sweep_interval: seconds between retention's sweeps.
        @param retry_interval: seconds between tries after writing failed.
        @param queue_size: the most frames of a camera waiting to be
            written.
        @param close_grace: seconds L{stopService} waits for the files to
            be written and closed.
        @param in_thread: runs every job of the writers and of retention;
            by default, each writer's in a thread of its own, and
            retention's in another.
        @param free_space: the bytes free on the disk of a path.
        @param wall_clock: the time, Unix seconds, that ages are counted to.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor  # noqa: PLC0415

            reactor = global_reactor
        self._cameras = cameras
        self._reactor = reactor
        self._retry_interval = retry_interval
        self._queue_size = queue_size
        self._close_grace = close_grace
        self._in_thread = in_thread
        self._threads: dict[Recorder, list[WriterThread]] = {}
        self._watches: dict[str, ActivityWatch] = {}
        self._retention_thread: WriterThread | None = None
        sweeping: InThread
        if in_thread is None:
            sweeping = self._retention_thread = WriterThread(
                reactor, "camserve-retention"
            )
        else:
            sweeping = in_thread
        self._sweeping = sweeping
        self._root: Path | None = None
        self._min_free_bytes = MIN_FREE_BYTES
        self._settings: dict[str, RecordingSettings] = {}
        self._recorders: dict[str, tuple[Recorder, Path]] = {}
        self._closing: dict[str, Deferred[None]] = {}
        self._open = OpenSegments()
        self._sweeps = Sweeps(
            Retention(self._open, free_space),
            reactor,
            sweeping,
            plan=self._plan,
            recorders=self._writing,
            low=self._disk_low,
            interval=sweep_interval,
            wall_clock=wall_clock,
        )

    @property
    def root(self) -> Path | None:
        """
        The recordings folder; L{None} while no camera may record.
        """
        return self._root

    @property
    def min_free_bytes(self) -> int:
        """
        The bytes retention keeps free on the recordings' disk.
        """
        return self._min_free_bytes

    @property
    def settings(self) -> dict[str, RecordingSettings]:
        """
        How each camera records, by name.
        """
        return dict(self._settings)

    def configure(
        self,
        root: Path | None,
        min_free_bytes: int,
        cameras: Mapping[str, RecordingSettings],
    ) -> Deferred[None]:
        """
        Record into C{root}, keeping C{min_free_bytes} free on its disk,
        each camera of C{cameras} as its settings say: a camera whose mode
        or folder changes gets a new recorder (its old one's files closed
        first), as does one whose motion mask changes; one whose segment
        length, limits or motion settings change keeps its own,
        and a camera left out, or whose mode is off, stops recording.

        @param root: the recordings folder; L{None} for none, if no camera
            records.
        @return: fires once the recorders stopped have closed their files.
        @raise ValueError: if a camera records without C{root}.
        """
        recording = [
            name for name, each in cameras.items() if each.mode is not RecordingMode.OFF
        ]
        if root is None and recording:
            raise ValueError(f"camera {recording[0]} records, but into no folder")
        self._root = root
        self._min_free_bytes = min_free_bytes
        self._settings = dict(cameras)
        if not self.running:
            return succeed(None)
        return self._apply()

    def _apply(self) -> Deferred[None]:
        """
        Bring the recorders in line with the settings.
        """
        closing = []
        for name, (recorder, root) in list(self._recorders.items()):
            wanted = self._settings.get(name)
            if (
                wanted is None
                or wanted.mode != recorder.settings.mode
                or wanted.motion_mask != recorder.settings.motion_mask
                or root != self._root
            ):
                closing.append(self._close(name))
            else:
                recorder.settings = wanted
        for name in self._settings:
            self._make(name)
        if self._root is not None:
            self._sweeps.start()
        return DeferredList(closing).addCallback(lambda _: None)

    def _make(self, name: str) -> None:
        """
        Give camera C{name} the recorder its settings ask for, unless it has
        one or its old one is still closing (which makes it after).
        """
        settings = self._settings.get(name)
        root = self._root
        if (
            settings is None
            or settings.mode is RecordingMode.OFF
            or root is None
            or name in self._recorders
            or name in self._closing
        ):
            return
        threads: list[WriterThread] = []
        writing: InThread
        analysing: InThread
        if self._in_thread is None:
            writing = WriterThread(self._reactor, f"camserve-recording-{name}")
            analysing = WriterThread(self._reactor, f"camserve-activity-{name}")
            threads = [writing, analysing]
        else:
            writing = analysing = self._in_thread

        def now() -> RecordingSettings:
            return self._settings.get(name, settings)

        log = MotionLog(motion_log_path(root, name), writing, now)
        watch = self._watches[name] = ActivityWatch(now, analysing, log.ended)
        recorder = Recorder(
            self._cameras.camera(name),
            settings,
            SegmentWriter(root, name, self._open),
            self._reactor,
            writing,
            queue_size=self._queue_size,
            retry_interval=self._retry_interval,
            watch=watch,
        )
        self._recorders[name] = (recorder, root)
        self._threads[recorder] = threads
        recorder.disk_low(self._sweeps.low)
        if settings.mode in (RecordingMode.CONTINUOUS, RecordingMode.MOTION):
            recorder.start()

    def _close(self, name: str) -> Deferred[None]:
        """
        Close camera C{name}'s recorder; once it has closed its files, make
        the one its settings now ask for.
        """
        recorder, _ = self._recorders.pop(name)
        self._watches.pop(name, None)
        threads = self._threads.pop(recorder, [])
        closed = self._closing[name] = recorder.close()

        def then(_: object) -> None:
            for thread in threads:
                thread.stop()
            if self._closing.get(name) is closed:
                del self._closing[name]
            if self.running:
                self._make(name)

        return closed.addCallback(then)

    # On demand

    def start(self, name: str) -> None:
        """
        Start recording camera C{name}, whose mode is C{on_demand}; one
        recording already goes on.

        @raise KeyError: for a camera the service has no settings of.
        @raise RecordingRefusedError: if the camera does not record on
            demand, or the service is not running.
        """
        self._on_demand(name).start()

    def stop(self, name: str) -> Deferred[None]:
        """
        Stop recording camera C{name}, whose mode is C{on_demand}.

        @return: fires once its files are closed.
        @raise KeyError: for a camera the service has no settings of.
        @raise RecordingRefusedError: as L{start}.
        """
        return self._on_demand(name).stop()

    def _on_demand(self, name: str) -> Recorder:
        mode = self._settings[name].mode
        if mode is not RecordingMode.ON_DEMAND:
            raise RecordingRefusedError(
                f"camera {name} does not record on demand (record = {mode.value!r})"
            )
        made = self._recorders.get(name)
        if made is None:
            raise RecordingRefusedError(f"camera {name} cannot record now")
        return made[0]

    # Reports

    def motion_events(self, name: str) -> Deferred[list[dict[str, Any]]]:
        """
        Camera C{name}'s motion events, oldest first, read in a thread: each
        its C{start} and C{end} (Unix seconds; C{end} L{None} for the motion
        going on) and its C{peak} activity.
        """
        root = self._root
        path = None if root is None else motion_log_path(root, name)
        return list_events(path, self._sweeping, lambda: self._watches.get(name))

    def report(self, name: str) -> dict[str, Any]:
        """
        Camera C{name}'s recording, JSON-ready: its C{mode}, its C{state}
        (C{off}, C{recording}, C{waiting_for_motion}, C{failed} with its
        C{last_error}, or
        C{waiting_for_disk}), the C{bytes} its recordings hold on the disk,
        and the C{frames_written} and C{frames_dropped} by its recorder.
        """
        made = self._recorders.get(name)
        if made is None:
            settings = self._settings.get(name)
            mode = RecordingMode.OFF if settings is None else settings.mode
            report: dict[str, Any] = {
                "mode": mode.value,
                "state": RecordingState.OFF.value,
                "frames_written": 0,
                "frames_dropped": 0,
                "last_error": None,
            }
        else:
            report = made[0].report()
        return {**report, "bytes": self._sweeps.usage(name)}

    def _plan(self) -> Plan | None:
        """
        What retention keeps now; L{None} without a recordings folder.
        """
        if self._root is None:
            return None
        limits = {
            name: Limits(each.max_age, each.max_bytes)
            for name, each in self._settings.items()
        }
        return Plan(self._root, limits, self._min_free_bytes)

    def _writing(self) -> dict[str, Recorder]:
        return {name: recorder for name, (recorder, _) in self._recorders.items()}

    def _disk_low(self, low: bool) -> None:
        for recorder, _ in self._recorders.values():
            recorder.disk_low(low)

    # The service

    def startService(self) -> None:
        """
        Start the recordings.
        """
        super().startService()
        self._apply()

    def stopService(self) -> Deferred[None]:
        """
        Stop every recording, and its thread once its files are closed.
        """
        super().stopService()
        sweeping = self._sweeps.stop()
        closing = [self._close(name) for name in list(self._recorders)]
        closing += list(self._closing.values())
        if sweeping is not None:
            closing.append(sweeping)
        settled: Deferred[None] = Deferred()

        def all_closed(_: object) -> None:
            if not settled.called:
                settled.callback(None)

        DeferredList(closing).addCallback(all_closed)
        # Giving up is said below.
        settled.addTimeout(
            self._close_grace, self._reactor, onTimeoutCancel=lambda _, __: None
        )

        def stop_threads(_: object) -> None:
            if self._retention_thread is not None:
                self._retention_thread.stop()
            if all(each.called for each in closing):
                return
            # A write stuck in the kernel (a dead network disk) cannot be
            # interrupted: its daemon thread is left behind rather than
            # hang the shutdown.
            self._log.warn(
                "recordings: not all files were closed within {grace:g} s;"
                " not waiting for them",
                grace=self._close_grace,
            )

        return settled.addCallback(stop_threads)
