"""
Tests for L{camserve.ThreadedCameraSource}.

Most run the capture loop synchronously, in the test's thread, with a reactor
that only queues what the capture thread hands it: the tests then choose
exactly when "the reactor" runs, which is what the coalescing slot is about.
One test runs a real capture thread against the real reactor.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import pytest
from support import reactor_test
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer
from zope.interface.verify import verifyObject

from camserve import CameraEnded, ThreadedCameraSource
from camserve.interfaces import ICamera, IDroppedFrames, IEveryFrame, IFrameSource
from camserve.testing import ScriptedCamera

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from camserve.interfaces import CameraItem

    Step = CameraItem | Callable[[], object]


@implementer(IReactorFromThreads)
class QueueingReactor:
    """
    Stands in for the reactor: C{callFromThread} only queues the call, which
    runs when the test calls L{run_queued}.

    @ivar history: every callable queued, in order.
    @ivar probed: what C{probe} returned at each C{callFromThread}.
    """

    def __init__(self, probe: Callable[[], object] = lambda: None) -> None:
        self.queued: list[tuple[Callable[..., object], tuple[object, ...]]] = []
        self.history: list[Callable[..., object]] = []
        self.probe = probe
        self.probed: list[object] = []

    def callFromThread(
        self,
        # Named as in IReactorFromThreads, which mypy-zope checks.
        callable: Callable[..., Any],  # noqa: A002
        *args: object,
        **kwargs: object,
    ) -> None:
        assert not kwargs
        self.queued.append((callable, args))
        self.history.append(callable)
        self.probed.append(self.probe())

    def run_queued(self) -> None:
        """
        Run every queued call, in order, as the reactor would.
        """
        while self.queued:
            f, args = self.queued.pop(0)
            f(*args)


@implementer(ICamera)
class StepCamera:
    """
    A camera that follows a script: it yields the script's frames and calls
    its callables (in the capture thread, between frames), then ends as told.

    With C{ending="stop"} the script must have asked the source to stop: the
    camera then yields one more frame, which the source must not hand off,
    and fails the test if iterated further.
    """

    def __init__(
        self,
        script: list[Step],
        ending: Literal["stop", "return", "raise"] = "stop",
        error: Exception | None = None,
    ) -> None:
        self.script = script
        self.ending = ending
        self.error = error or OSError("camera unplugged")
        self.opened = 0
        self.closed = 0

    def frames(self) -> Iterator[CameraItem]:
        self.opened += 1
        try:
            for step in self.script:
                if callable(step):
                    step()
                else:
                    yield step
            if self.ending == "raise":
                raise self.error
            if self.ending == "stop":
                yield b"after stop"
                pytest.fail("the camera was iterated after stop() was requested")
        finally:
            self.closed += 1


class Harness:
    """
    A L{ThreadedCameraSource} of a L{StepCamera}, with a L{QueueingReactor}
    and a C{run_in_thread} that runs the capture loop at once, in the test's
    thread; it records what the source delivers and reports.
    """

    def __init__(
        self,
        ending: Literal["stop", "return", "raise"] = "stop",
        error: Exception | None = None,
    ) -> None:
        self.camera = StepCamera([], ending, error)
        self.reactor = QueueingReactor(probe=lambda: self.camera.closed)
        self.source = ThreadedCameraSource(
            self.camera, self.reactor, self.run_in_thread
        )
        self.delivered: list[tuple[bytes, float]] = []
        self.outcomes: list[Failure | None] = []
        self.closed_when_reported: list[int] = []

    def run_in_thread(self, f: Callable[[], None]) -> None:
        f()

    def start(self, *script: Step) -> None:
        """
        Start the source, which runs C{script} to its end before returning.
        """
        self.camera.script = list(script)
        self.source.start(self._deliver, self._stopped)

    def _deliver(self, jpeg: bytes, captured_at: float) -> None:
        self.delivered.append((jpeg, captured_at))

    def _stopped(self, outcome: Failure | None) -> None:
        self.outcomes.append(outcome)
        self.closed_when_reported.append(self.camera.closed)


def test_provides_interface() -> None:
    """
    ThreadedCameraSource implements IFrameSource.
    """
    assert verifyObject(IFrameSource, Harness().source)


def test_frames_coalesce_into_one_hand_off() -> None:
    """
    Frames captured while the reactor runs nothing leave exactly one pending
    hand-off, which delivers only the newest frame; the two it replaced are
    counted as dropped.
    """
    h = Harness()
    h.start((b"1", 1.0), (b"2", 2.0), (b"3", 3.0), h.source.stop)

    assert h.reactor.queued == [
        (h.source._take, ()),
        (h.source._finished, (None,)),
    ]
    assert h.delivered == []
    h.reactor.run_queued()
    assert h.delivered == [(b"3", 3.0)]
    assert h.outcomes == [None]
    assert h.source.frames_dropped() == 2
    assert verifyObject(IDroppedFrames, h.source)


def test_taken_slot_schedules_new_hand_off() -> None:
    """
    Once the reactor has taken a frame, the next frame schedules a new
    hand-off; every taken frame is delivered once.
    """
    h = Harness()
    h.start(
        (b"1", 1.0),
        h.reactor.run_queued,
        (b"2", 2.0),
        (b"3", 3.0),
        h.reactor.run_queued,
        (b"4", 4.0),
        h.source.stop,
    )
    h.reactor.run_queued()
    assert h.reactor.history == [
        h.source._take,
        h.source._take,
        h.source._take,
        h.source._finished,
    ]
    assert h.delivered == [(b"1", 1.0), (b"3", 3.0), (b"4", 4.0)]
    assert h.outcomes == [None]
    assert h.source.frames_dropped() == 1


def test_every_frame_while_asked_for() -> None:
    """
    While its hub asks for every frame, the source keeps up to that many
    for the reactor, still in one hand-off, dropping (and counting) the
    oldest beyond; asked no more, it keeps only the newest again.
    """
    h = Harness()
    h.source.keep_every_frame(3)
    h.start(
        (b"1", 1.0),
        (b"2", 2.0),
        (b"3", 3.0),
        (b"4", 4.0),
        h.reactor.run_queued,
        lambda: h.source.keep_every_frame(None),
        (b"5", 5.0),
        (b"6", 6.0),
        h.source.stop,
    )
    h.reactor.run_queued()
    assert h.delivered == [(b"2", 2.0), (b"3", 3.0), (b"4", 4.0), (b"6", 6.0)]
    assert h.reactor.history.count(h.source._take) == 2
    assert h.source.frames_dropped() == 2
    assert verifyObject(IEveryFrame, h.source)


def test_capture_times() -> None:
    """
    A bare JPEG gets the capture loop's time.time() as its capture time; a
    (JPEG, time) pair keeps its own.
    """
    h = Harness()
    before = time.time()
    h.start(b"bare", h.reactor.run_queued, (b"timed", 12.5), h.source.stop)
    after = time.time()
    h.reactor.run_queued()

    [(bare, bare_time), timed] = h.delivered
    assert bare == b"bare"
    assert before <= bare_time <= after
    assert timed == (b"timed", 12.5)


def test_stop_closes_generator_and_reports_none() -> None:
    """
    After stop() the loop hands off no further frame, closes the camera's
    generator (running its finally) before reporting, and reports stopped
    with None.
    """
    h = Harness()
    h.start((b"1", 1.0), h.source.stop)
    assert h.reactor.history[-1] == h.source._finished
    # Closed by the capture loop itself before it reports, not by the garbage
    # collector later.
    assert h.reactor.probed[-1] == 1
    h.reactor.run_queued()
    assert h.delivered == [(b"1", 1.0)]
    assert h.outcomes == [None]
    assert h.closed_when_reported == [1]
    assert h.camera.opened == 1


def test_source_can_start_again_after_stopping() -> None:
    """
    A stopped source started again captures again: the earlier stop request
    does not end the new run.
    """
    h = Harness()
    h.start((b"1", 1.0), h.source.stop)
    h.reactor.run_queued()
    h.start((b"2", 2.0), h.source.stop)
    h.reactor.run_queued()
    assert h.delivered == [(b"1", 1.0), (b"2", 2.0)]
    assert h.outcomes == [None, None]
    assert (h.camera.opened, h.camera.closed) == (2, 2)


def test_raising_generator_reports_failure() -> None:
    """
    A generator that raises has its finally run and is reported as a Failure
    with its error, after the frames it gave.
    """
    error = OSError("camera unplugged")
    h = Harness(ending="raise", error=error)
    h.start((b"1", 1.0))
    assert h.reactor.probed[-1] == 1
    h.reactor.run_queued()

    assert h.delivered == [(b"1", 1.0)]
    [outcome] = h.outcomes
    assert isinstance(outcome, Failure)
    assert outcome.value is error


def test_returning_generator_reports_camera_ended() -> None:
    """
    A generator that returns by itself is reported as a Failure wrapping
    CameraEnded.
    """
    h = Harness(ending="return")
    h.start((b"1", 1.0), (b"2", 2.0))
    assert h.reactor.probed[-1] == 1
    h.reactor.run_queued()

    assert h.delivered == [(b"2", 2.0)]
    [outcome] = h.outcomes
    assert isinstance(outcome, Failure)
    assert outcome.check(CameraEnded)


def test_camera_failing_to_open_reports_failure() -> None:
    """
    A camera whose frames() raises before returning an iterator is reported
    as a Failure.
    """

    @implementer(ICamera)
    class MissingCamera:
        def frames(self) -> Iterator[CameraItem]:
            raise FileNotFoundError("/dev/video0")

    reactor = QueueingReactor()
    delivered: list[tuple[bytes, float]] = []
    outcomes: list[Failure | None] = []

    def deliver(jpeg: bytes, captured_at: float) -> None:
        delivered.append((jpeg, captured_at))

    source = ThreadedCameraSource(MissingCamera(), reactor, lambda f: f())
    source.start(deliver, outcomes.append)
    reactor.run_queued()
    assert delivered == []
    [outcome] = outcomes
    assert isinstance(outcome, Failure)
    assert outcome.check(FileNotFoundError)


@reactor_test
async def test_real_capture_thread() -> None:
    """
    In a real capture thread at 50 fps, frames reach the reactor; after
    stop() the source reports stopped with None and the camera is closed as
    often as it was opened.
    """
    # Imported here, once pytest-twisted has installed its reactor.
    from twisted.internet import reactor as _reactor  # noqa: PLC0415

    reactor: Any = _reactor
    clock: IReactorTime = reactor
    pool = ThreadPool(minthreads=1, maxthreads=1, name="test-capture")
    pool.start()
    camera = ScriptedCamera([b"a", b"b", b"c"], fps=50)
    source = ThreadedCameraSource(camera, reactor, pool.callInThread)
    delivered: list[tuple[bytes, float]] = []
    outcomes: list[Failure | None] = []
    five_frames: Deferred[None] = Deferred()
    stopped: Deferred[None] = Deferred()

    def deliver(jpeg: bytes, captured_at: float) -> None:
        delivered.append((jpeg, captured_at))
        if len(delivered) == 5:
            five_frames.callback(None)

    def report(outcome: Failure | None) -> None:
        outcomes.append(outcome)
        stopped.callback(None)

    try:
        source.start(deliver, report)
        await five_frames.addTimeout(5, clock)
        source.stop()
        await stopped.addTimeout(5, clock)
    finally:
        source.stop()
        if not outcomes:
            # Should stop() be ignored, make the camera fail so that its
            # thread still ends and the pool can be joined.
            camera.fail_after = 0
        pool.stop()

    assert outcomes == [None]
    assert {jpeg for jpeg, _ in delivered} <= {b"a", b"b", b"c"}
    assert [t for _, t in delivered] == sorted(t for _, t in delivered)
    assert camera.is_open is False
    assert camera.closed == camera.opened == 1
