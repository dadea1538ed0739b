"""
Tests for L{camserve.CameraHub}, driven by a C{Clock} and a L{PushSource}.

No sockets, threads or sleeping: every frame, failure and timeout happens at
an exact moment chosen by the test. Delays are split with L{EPS}, a power of
two, so that the clock's float arithmetic stays exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import pytest
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from zope.interface import implementer

from camserve import CameraHub, CameraUnavailable, Frame, HubState, encode_part
from camserve.interfaces import (
    THUMBNAIL,
    VIEWER,
    IDroppedFrames,
    IFrameSink,
    IKeepAliveSink,
)
from camserve.testing import PushSource

if TYPE_CHECKING:
    from support import LogRecorder

T = TypeVar("T")

EPS = 1 / 1024
"""A small step that is exact in binary, so C{t - EPS + EPS == t}."""

IDLE = 10.0
START = 5.0
KEEPALIVE = 2.0


@implementer(IKeepAliveSink)
class RecordingSink:
    """
    A stream-like sink that records every call the hub makes on it, in
    order.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, Frame | None]] = []

    def send_frame(self, frame: Frame) -> None:
        self.calls.append(("frame", frame))

    def keep_alive(self, frame: Frame) -> None:
        self.calls.append(("keep_alive", frame))

    def camera_closed(self) -> None:
        self.calls.append(("closed", None))

    @property
    def frames(self) -> list[Frame]:
        """
        The frames given by C{send_frame}, in order.
        """
        return [frame for kind, frame in self.calls if kind == "frame" and frame]

    @property
    def keepalives(self) -> list[Frame]:
        """
        The frames given by C{keep_alive}, in order.
        """
        return [frame for kind, frame in self.calls if kind == "keep_alive" and frame]

    @property
    def closed(self) -> int:
        """
        How often C{camera_closed} was called.
        """
        return sum(1 for kind, _ in self.calls if kind == "closed")


def make_hub(
    *,
    idle_timeout: float = IDLE,
    start_timeout: float = START,
    keepalive_interval: float = KEEPALIVE,
    backoff_initial: float = 0.5,
    backoff_max: float = 30.0,
) -> tuple[CameraHub, PushSource, Clock]:
    """
    A hub named C{cam} on a fresh clock at time 0, fed by a L{PushSource}.
    """
    clock = Clock()
    source = PushSource()
    hub = CameraHub(
        "cam",
        source,
        clock,
        driver="push",
        idle_timeout=idle_timeout,
        start_timeout=start_timeout,
        keepalive_interval=keepalive_interval,
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
    )
    return hub, source, clock


def result_of(d: Deferred[T]) -> T:
    """
    The result a Deferred has already succeeded with.
    """
    results: list[T | Failure] = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    [result] = results
    if isinstance(result, Failure):
        result.raiseException()
    assert not isinstance(result, Failure)
    return result


def failure_of(d: Deferred[T]) -> Failure:
    """
    The failure a Deferred has already failed with (which is then handled).
    """
    results: list[T | Failure] = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    [result] = results
    assert isinstance(result, Failure), f"the Deferred succeeded with {result!r}"
    return result


def state(hub: CameraHub) -> HubState:
    """
    The hub's state, read afresh (so that type checkers do not assume it
    unchanged between two reads).
    """
    return hub.state


def stopping_hub() -> tuple[CameraHub, PushSource]:
    """
    A hub whose one viewer got a frame and left: the idle timeout has passed
    and the source was asked to stop, but has not finished stopping.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.push(b"1", 1.0)
    hub.unsubscribe(sink)
    clock.advance(IDLE)
    assert source.stop_requested
    return hub, source


def stops_exactly_after(clock: Clock, source: PushSource, delay: float) -> bool:
    """
    Advance C{clock} by C{delay} and say whether the source was asked to stop
    then and not a moment before.
    """
    clock.advance(delay - EPS)
    if source.stop_requested:
        return False
    clock.advance(EPS)
    return source.stop_requested


def restarts_exactly_after(clock: Clock, source: PushSource, delay: float) -> bool:
    """
    Advance C{clock} by C{delay} and say whether the source was started again
    then, exactly once, and not a moment before.
    """
    starts = source.starts
    clock.advance(delay - EPS)
    if source.starts != starts:
        return False
    clock.advance(EPS)
    return source.starts == starts + 1


# Subscribing, starting and health


def test_first_subscriber_starts_source_once() -> None:
    """
    The first subscriber starts the source; a second subscriber does not
    start it again. Until the first frame the hub is STARTING.
    """
    hub, source, _ = make_hub()
    assert state(hub) is HubState.IDLE
    assert source.starts == 0

    hub.subscribe(RecordingSink())
    assert source.starts == 1
    assert source.running
    assert state(hub) is HubState.STARTING

    hub.subscribe(RecordingSink())
    assert source.starts == 1
    assert hub.viewers == 2
    assert state(hub) is HubState.STARTING


def test_first_frame_makes_hub_running() -> None:
    """
    The first frame moves the hub from STARTING to RUNNING.
    """
    hub, source, _ = make_hub()
    hub.subscribe(RecordingSink())
    source.push(b"jpeg", 1.0)
    assert state(hub) is HubState.RUNNING
    assert hub.frames_captured == 1


def test_health() -> None:
    """
    health() reports name, driver, state, last error, viewers, consumers by
    kind, frames captured and dropped, the frame rate measured over the last
    frames, and the uptime since the hub was made.
    """
    hub, source, clock = make_hub()
    assert hub.health() == {
        "name": "cam",
        "driver": "push",
        "state": "idle",
        "last_error": None,
        "viewers": 0,
        "consumers": {},
        "frames_captured": 0,
        "frames_dropped": 0,
        "fps": 0.0,
        "uptime": 0.0,
        "details": {},
    }

    clock.advance(1)
    hub.subscribe(RecordingSink())
    hub.subscribe(RecordingSink())
    assert hub.health() == {
        "name": "cam",
        "driver": "push",
        "state": "starting",
        "last_error": None,
        "viewers": 2,
        "consumers": {"viewer": 2},
        "frames_captured": 0,
        "frames_dropped": 0,
        "fps": 0.0,
        "uptime": 1.0,
        "details": {},
    }

    # One frame: running, but no rate measured yet.
    source.push(b"1", 100.0)
    assert hub.health()["fps"] == 0.0
    assert hub.health()["state"] == "running"
    # Frames every 0.25 s: 4 fps.
    for number in range(2, 5):
        clock.advance(0.25)
        source.push(b"%d" % number, 100.0 + (number - 1) * 0.25)
    assert hub.health() == {
        "name": "cam",
        "driver": "push",
        "state": "running",
        "last_error": None,
        "viewers": 2,
        "consumers": {"viewer": 2},
        "frames_captured": 4,
        "frames_dropped": 0,
        "fps": 4.0,
        "uptime": 1.75,
        "details": {},
    }
    # Then a 0.5 s interval: four intervals in 1.25 s.
    clock.advance(0.5)
    source.push(b"5", 101.25)
    assert hub.health()["fps"] == 3.2
    assert hub.health()["uptime"] == 2.25


def test_frame_interval_is_not_measured_across_a_restart() -> None:
    """
    After an idle stop and a restart, the frame rate in health() and the
    time a snapshot counts as fresh come from frame intervals within a run:
    the time the camera was off is not taken for one.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    for number in range(1, 5):
        source.push(b"%d" % number, clock.seconds())
        clock.advance(0.25)
    assert hub.health()["fps"] == 4.0
    hub.unsubscribe(sink)
    assert stops_exactly_after(clock, source, IDLE)
    source.finish_stop()
    clock.advance(1)

    hub.subscribe(sink)
    source.push(b"5", clock.seconds())
    clock.advance(0.25)
    source.push(b"6", clock.seconds())
    assert hub.health()["fps"] == 4.0
    # Two frame intervals of 0.25 s: the newest frame is no longer fresh.
    clock.advance(0.5)
    later = hub.next_frame()
    assert not later.called
    source.push(b"7", 7.0)
    assert result_of(later).jpeg == b"7"


FPS = 30
"""The frame rate of the cameras whose rate is measured."""


def push_at_rate(
    source: PushSource,
    clock: Clock,
    count: int,
    *,
    first: float | None = None,
    arrival: float = 1 / FPS,
) -> None:
    """
    Push C{count} frames captured L{FPS} a second from C{first} (now by
    default), the first received now and each other C{arrival} seconds after
    the one before.
    """
    captured = clock.seconds() if first is None else first
    for number in range(count):
        if number:
            clock.advance(arrival)
        source.push(b"%d" % number, captured + number / FPS)


@pytest.mark.parametrize("count", [2, 5, 30, 90])
def test_rate_is_right_from_the_first_frames(count: int) -> None:
    """
    From its second frame on, a camera giving 30 frames a second is
    reported at 30 a second, read as a frame comes or just before the next.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    push_at_rate(source, clock, count)
    assert hub.health()["fps"] == pytest.approx(FPS, abs=0.01)
    clock.advance(1 / FPS - EPS)
    assert hub.health()["fps"] == pytest.approx(FPS, abs=0.01)


@pytest.mark.parametrize("count", [2, 5, 30])
def test_rate_of_frames_received_in_a_burst(count: int) -> None:
    """
    Frames captured 30 a second but received in a burst (the reactor was
    busy as the camera started) are reported at the rate their capture
    times support, not at the rate they arrived.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    start = clock.seconds()
    clock.advance((count - 1) / FPS)
    push_at_rate(source, clock, count, first=start, arrival=EPS)
    assert hub.health()["fps"] == pytest.approx(FPS, abs=0.01)
    # Then at their own pace: the burst does not linger in the rate.
    clock.advance(1 / FPS)
    push_at_rate(source, clock, 10, first=start + count / FPS)
    assert hub.health()["fps"] == pytest.approx(FPS, abs=0.01)


def test_a_stall_lowers_the_rate() -> None:
    """
    A camera that stops sending frames is reported slower as soon as a frame
    is late, and all but stopped once it has sent nothing for longer than
    the rate is measured over; its rate is right again once frames come.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    push_at_rate(source, clock, 60)
    assert hub.health()["fps"] == pytest.approx(FPS, abs=0.01)
    clock.advance(1 / FPS + 0.1)
    assert hub.health()["fps"] < FPS - 1
    # Half a second without frames: the last 2 s had 1.5 s of them.
    clock.advance(0.5 - 0.1)
    assert hub.health()["fps"] == pytest.approx(FPS * 1.5 / 2, abs=1)
    clock.advance(10)
    assert hub.health()["fps"] < 1
    clock.advance(1 / FPS)
    push_at_rate(source, clock, 3)
    assert hub.health()["fps"] == pytest.approx(FPS, abs=0.01)


def test_rate_is_not_measured_across_a_failure() -> None:
    """
    After a camera fails and is started again, its rate is measured from
    the frames of the new run only: the time it was off is not taken for
    frames that did not come.
    """
    hub, source, clock = make_hub(backoff_initial=0.5)
    hub.subscribe(RecordingSink())
    push_at_rate(source, clock, 10)
    source.fail(OSError("unplugged"))
    assert restarts_exactly_after(clock, source, 0.5)
    push_at_rate(source, clock, 2)
    assert hub.health()["fps"] == pytest.approx(FPS, abs=0.01)


def test_rate_of_a_slow_camera() -> None:
    """
    A camera slower than one frame in the time the rate is measured over
    is reported at its rate all the same.
    """
    hub, source, clock = make_hub(keepalive_interval=60)
    hub.subscribe(RecordingSink())
    for number in range(4):
        source.push(b"%d" % number, clock.seconds())
        clock.advance(5)
    assert hub.health()["fps"] == 0.2


def test_rate_of_a_frame_held_on_show() -> None:
    """
    Frames that all carry one capture time (a recording's last frame, sent
    again every second) are reported at the rate they arrive.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    for _ in range(5):
        source.push(b"last", 7.0)
        clock.advance(1)
    assert hub.health()["fps"] == 1.0


# Frames reaching sinks


def test_each_frame_reaches_every_sink_once_in_order() -> None:
    """
    Every subscribed sink gets each frame once, in capture order, as the same
    numbered Frame; numbers rise from 1 and Frame.part is the multipart part.
    """
    hub, source, clock = make_hub()
    first, second = RecordingSink(), RecordingSink()
    hub.subscribe(first)
    hub.subscribe(second)

    for jpeg, captured_at in [(b"a", 10.0), (b"b", 10.5), (b"c", 11.0)]:
        clock.advance(0.5)
        source.push(jpeg, captured_at)

    assert first.calls == second.calls
    assert first.keepalives == []
    frames = first.frames
    assert [f.jpeg for f in frames] == [b"a", b"b", b"c"]
    assert [f.number for f in frames] == [1, 2, 3]
    assert [f.captured_at for f in frames] == [10.0, 10.5, 11.0]
    assert [f.received_at for f in frames] == [0.5, 1.0, 1.5]
    for frame, other in zip(frames, second.frames, strict=True):
        assert frame is other
        assert frame.part == encode_part(frame.jpeg, frame.captured_at)
    assert hub.newest is frames[-1]
    assert hub.frames_captured == 3


def test_sink_gets_frames_only_while_subscribed() -> None:
    """
    A sink gets the frames that arrive while it is subscribed, and none
    before or after; the other sinks are unaffected.
    """
    hub, source, _ = make_hub()
    steady, passing = RecordingSink(), RecordingSink()
    hub.subscribe(steady)
    source.push(b"1", 1.0)
    hub.subscribe(passing)
    source.push(b"2", 2.0)
    hub.unsubscribe(passing)
    source.push(b"3", 3.0)

    assert [f.number for f in steady.frames] == [1, 2, 3]
    assert [f.number for f in passing.frames] == [2]
    assert hub.viewers == 1


def test_unsubscribing_unknown_sink_is_ignored() -> None:
    """
    Unsubscribing a sink that is not subscribed changes nothing: no idle
    timer starts for a camera that still has a viewer.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    hub.unsubscribe(RecordingSink())
    assert hub.viewers == 1
    clock.advance(IDLE * 3)
    assert not source.stop_requested


# Idle stop


def test_idle_stop_at_exactly_the_idle_timeout() -> None:
    """
    The source is asked to stop exactly the idle timeout after the last
    viewer left; once it has stopped the hub is IDLE, and a new viewer starts
    it again.
    """
    hub, source, clock = make_hub()
    first, second = RecordingSink(), RecordingSink()
    hub.subscribe(first)
    hub.subscribe(second)
    source.push(b"1", 1.0)
    clock.advance(3)
    hub.unsubscribe(first)
    clock.advance(1)
    hub.unsubscribe(second)

    assert stops_exactly_after(clock, source, IDLE)
    assert source.stops == 1
    assert state(hub) is HubState.RUNNING  # until the source reports it stopped
    source.finish_stop()
    assert state(hub) is HubState.IDLE
    assert hub.health()["state"] == "idle"
    assert source.starts == 1

    clock.advance(100)
    assert source.starts == 1
    hub.subscribe(first)
    assert source.starts == 2
    assert state(hub) is HubState.STARTING
    source.push(b"2", 2.0)
    assert [f.jpeg for f in first.frames] == [b"1", b"2"]


def test_subscriber_within_idle_window_cancels_stop() -> None:
    """
    A viewer arriving before the idle timeout keeps the camera running; when
    it leaves, the idle timeout starts again from then.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.push(b"1", 1.0)
    hub.unsubscribe(sink)
    clock.advance(IDLE - EPS)
    hub.subscribe(sink)
    clock.advance(IDLE * 5)
    assert not source.stop_requested
    assert source.starts == 1
    source.push(b"2", 2.0)
    assert [f.number for f in sink.frames] == [1, 2]

    hub.unsubscribe(sink)
    assert stops_exactly_after(clock, source, IDLE)
    assert source.stops == 1


def test_subscriber_while_stopping_restarts_after_stop() -> None:
    """
    A viewer arriving after the stop was requested but before the source
    finished stopping gets the camera started again right after it stops,
    and frames from the stopping run are not delivered.
    """
    hub, source = stopping_hub()

    late = RecordingSink()
    hub.subscribe(late)
    assert source.starts == 1  # not while the device is still held
    source.push(b"late", 2.0)  # the old run's last frame is dropped
    assert late.calls == []

    source.finish_stop()
    assert source.starts == 2
    assert source.running
    assert not source.stop_requested
    assert state(hub) is HubState.STARTING
    source.push(b"2", 3.0)
    assert [f.jpeg for f in late.frames] == [b"2"]
    assert state(hub) is HubState.RUNNING


# Snapshots


def test_next_frame_fresh_frame_at_once() -> None:
    """
    With the camera running and its newest frame younger than two frame
    intervals, next_frame() fires at once with that frame.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.push(b"1", 1.0)
    clock.advance(0.25)
    source.push(b"2", 2.0)
    clock.advance(0.5 - EPS)
    frame = result_of(hub.next_frame())
    assert frame is hub.newest
    assert frame.jpeg == b"2"


def test_snapshot_while_stopping_waits_for_the_restarted_camera() -> None:
    """
    A snapshot asked for while the camera is stopping after the idle
    timeout is not given the stopping run's newest frame, however recent:
    it waits, the camera is started again once it has stopped, and the
    snapshot gets the new run's first frame.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.push(b"0", 0.0)
    hub.unsubscribe(sink)
    # The camera keeps capturing at 4 fps until the idle timeout stops it.
    for _ in range(1000):
        if source.stop_requested:
            break
        clock.advance(0.25)
        source.push(b"old", clock.seconds())
    assert source.stop_requested, "the idle timeout never stopped the camera"
    newest = hub.newest
    assert newest is not None
    assert clock.seconds() - newest.received_at == 0.25

    d = hub.next_frame()
    assert not d.called
    assert source.starts == 1
    source.finish_stop()
    assert source.starts == 2
    source.push(b"new", 20.0)
    frame = result_of(d)
    assert frame.jpeg == b"new"


def test_next_frame_stale_frame_waits_for_next() -> None:
    """
    When the newest frame is two frame intervals old or older, next_frame()
    waits for the next frame and fires with it.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.push(b"1", 1.0)
    clock.advance(0.25)
    source.push(b"2", 2.0)
    clock.advance(0.5)
    d = hub.next_frame()
    assert not d.called
    clock.advance(0.25)
    assert not d.called
    source.push(b"3", 3.0)
    frame = result_of(d)
    assert frame.jpeg == b"3"
    assert frame.number == 3


def test_next_frame_starts_idle_camera() -> None:
    """
    next_frame() on an idle hub starts the source and fires with its first
    frame; with no demand left the source stops after the idle timeout.
    """
    hub, source, clock = make_hub()
    d = hub.next_frame()
    assert source.starts == 1
    assert state(hub) is HubState.STARTING
    assert not d.called
    clock.advance(1)
    source.push(b"first", 5.0)
    frame = result_of(d)
    assert (frame.jpeg, frame.number, frame.captured_at) == (b"first", 1, 5.0)
    assert stops_exactly_after(clock, source, IDLE)


def test_next_frame_fails_after_start_timeout() -> None:
    """
    With no frame, next_frame() fails with CameraUnavailable exactly the start
    timeout after it was called; the message names the timeout. The camera
    then stops after the idle timeout.
    """
    hub, source, clock = make_hub()
    d = hub.next_frame()
    clock.advance(START - EPS)
    assert not d.called
    clock.advance(EPS)
    failure = failure_of(d)
    assert failure.check(CameraUnavailable)
    assert str(failure.value) == "camera cam gave no frame within 5 s"
    assert stops_exactly_after(clock, source, IDLE)


def test_next_frame_timeout_mentions_last_error() -> None:
    """
    When the camera failed before, the start-timeout message also gives the
    last error.
    """
    hub, source, clock = make_hub()
    first = hub.next_frame()
    source.fail(OSError("boom"))
    failure_of(first)

    # A new waiter does not cut the backoff short: the retry comes at 0.5 s.
    d = hub.next_frame()
    assert source.starts == 1
    clock.advance(0.5)
    assert source.starts == 2
    clock.advance(START - 0.5)
    failure = failure_of(d)
    assert failure.check(CameraUnavailable)
    assert str(failure.value) == (
        "camera cam gave no frame within 5 s (last error: boom)"
    )


def test_next_frame_fails_at_once_when_source_fails() -> None:
    """
    A source failing before its first frame fails next_frame() at once with
    CameraUnavailable giving the error, rather than at the start timeout.
    """
    hub, source, clock = make_hub()
    d = hub.next_frame()
    clock.advance(1)
    source.fail(OSError("boom"))
    failure = failure_of(d)
    assert failure.check(CameraUnavailable)
    assert str(failure.value) == "camera cam failed: boom"
    assert state(hub) is HubState.FAILED
    # Nobody waits any more: no retry.
    clock.advance(IDLE * 10)
    assert source.starts == 1


def test_cancelling_next_frame_removes_demand() -> None:
    """
    Cancelling next_frame() ends the wait and its demand: the source is
    stopped exactly the idle timeout later, and no timeout fires afterwards.
    """
    hub, source, clock = make_hub()
    d = hub.next_frame()
    clock.advance(1)
    d.cancel()
    assert failure_of(d).check(CancelledError)
    assert stops_exactly_after(clock, source, IDLE)
    source.finish_stop()
    assert state(hub) is HubState.IDLE
    assert clock.getDelayedCalls() == []


def test_snapshot_of_unwatched_camera_restarts_idle_timer() -> None:
    """
    A fresh snapshot of a running camera that nobody watches keeps it on for
    another full idle timeout from the snapshot.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.push(b"0", 0.0)
    hub.unsubscribe(sink)
    # The camera keeps capturing during the idle window: 4 fps for 6 s.
    for number in range(1, 25):
        clock.advance(0.25)
        source.push(b"%d" % number, float(number))
    assert clock.seconds() == 6.0

    frame = result_of(hub.next_frame())
    assert frame.number == 25
    clock.advance(IDLE - 6.0)  # when the first idle timeout would have ended
    assert not source.stop_requested
    assert stops_exactly_after(clock, source, 6.0)


# Failure and backoff


def test_failure_state_and_health() -> None:
    """
    A failing source makes the hub FAILED with the error's message as its
    last error, in health() too; viewers stay subscribed.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.push(b"1", 1.0)
    clock.advance(0.25)
    source.push(b"2", 2.0)
    source.fail(OSError("boom"))
    assert state(hub) is HubState.FAILED
    health = hub.health()
    assert health["state"] == "failed"
    assert health["last_error"] == "boom"
    assert health["fps"] == 0.0
    assert health["viewers"] == 1
    assert health["frames_captured"] == 2


def test_source_ending_by_itself_is_a_failure() -> None:
    """
    A source that reports it stopped without being asked is treated as failed
    and retried.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.push(b"1", 1.0)
    source.finish_stop()
    assert state(hub) is HubState.FAILED
    assert hub.health()["last_error"] == "the camera stopped by itself"
    assert restarts_exactly_after(clock, source, 0.5)


def test_backoff_doubles_up_to_maximum() -> None:
    """
    A failed source is restarted after 0.5 s, then 1, 2, 4 ... s for each
    further failure, capped at backoff_max; the hub stays FAILED while it
    retries.
    """
    hub, source, clock = make_hub(backoff_max=5.0)
    hub.subscribe(RecordingSink())
    for delay in [0.5, 1, 2, 4, 5, 5]:
        source.fail(OSError("boom"))
        assert state(hub) is HubState.FAILED
        assert restarts_exactly_after(clock, source, delay), delay
        assert state(hub) is HubState.FAILED
    assert source.starts == 7


def test_subscriber_during_backoff_waits_for_retry() -> None:
    """
    A viewer arriving while a failed source waits out its backoff does not
    restart it early.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.fail(OSError("boom"))
    clock.advance(0.25)
    hub.subscribe(RecordingSink())
    assert source.starts == 1
    assert restarts_exactly_after(clock, source, 0.25)


def test_backoff_resets_after_a_frame() -> None:
    """
    Once a restarted source delivers a frame the hub is RUNNING again with no
    last error, and the next failure is retried after the initial backoff.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.fail(OSError("boom"))
    assert restarts_exactly_after(clock, source, 0.5)
    source.fail(OSError("boom"))
    assert restarts_exactly_after(clock, source, 1)
    source.fail(OSError("boom"))
    assert restarts_exactly_after(clock, source, 2)

    source.push(b"1", 1.0)
    assert state(hub) is HubState.RUNNING
    assert hub.health()["last_error"] is None
    source.fail(OSError("again"))
    assert hub.health()["last_error"] == "again"
    assert restarts_exactly_after(clock, source, 0.5)


def test_sinks_stay_subscribed_through_failures() -> None:
    """
    Viewers stay subscribed while the source fails and is retried, and get
    frames again, numbered on, once it recovers.
    """
    hub, source, clock = make_hub()
    sinks = [RecordingSink(), RecordingSink()]
    for sink in sinks:
        hub.subscribe(sink)
    source.push(b"1", 1.0)
    source.fail(OSError("boom"))
    clock.advance(0.5)
    source.fail(OSError("boom"))
    clock.advance(1)
    assert hub.viewers == 2
    source.push(b"2", 2.0)
    source.push(b"3", 3.0)
    for sink in sinks:
        assert [(f.jpeg, f.number) for f in sink.frames] == [
            (b"1", 1),
            (b"2", 2),
            (b"3", 3),
        ]
        assert sink.closed == 0


def test_no_retry_when_nobody_watches() -> None:
    """
    When the last viewer leaves a failed camera whose retry is still pending,
    the idle timeout cancels the retry and makes the hub IDLE.
    """
    hub, source, clock = make_hub(backoff_initial=20.0)
    sink = RecordingSink()
    hub.subscribe(sink)
    source.fail(OSError("boom"))
    clock.advance(1)
    hub.unsubscribe(sink)
    clock.advance(IDLE)
    assert state(hub) is HubState.IDLE
    assert clock.getDelayedCalls() == []
    clock.advance(100)
    assert source.starts == 1


def test_failed_camera_nobody_watches_is_not_restarted() -> None:
    """
    When the last viewer leaves a failed camera before its retry is due, the
    retry does not start it.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.fail(OSError("boom"))
    clock.advance(0.25)
    hub.unsubscribe(sink)
    clock.advance(IDLE * 10)
    assert source.starts == 1
    assert not source.running
    assert clock.getDelayedCalls() == []


def test_failed_camera_nobody_watches_becomes_idle() -> None:
    """
    When the last viewer leaves a failed camera, it is not restarted, and
    after the idle timeout the hub is IDLE: nothing runs and nobody watches.
    This holds too when the backoff delay is shorter than the idle timeout.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.fail(OSError("boom"))
    hub.unsubscribe(sink)
    clock.advance(IDLE)
    assert source.starts == 1
    assert clock.getDelayedCalls() == []
    assert state(hub) is HubState.IDLE


def test_failure_with_snapshot_waiting_still_backs_off() -> None:
    """
    A failure while viewers watch and a snapshot waits fails the snapshot and
    restarts the source after the backoff, not at once.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    d = hub.next_frame()
    source.fail(OSError("boom"))
    assert failure_of(d).check(CameraUnavailable)
    assert source.starts == 1
    assert restarts_exactly_after(clock, source, 0.5)
    source.fail(OSError("boom"))
    assert restarts_exactly_after(clock, source, 1)


def test_failure_logged_once_per_run_of_failures(log: LogRecorder) -> None:
    """
    A camera that keeps failing is logged as failed once; after it recovers,
    a new failure is logged again.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.fail(OSError("boom"))
    for delay in [0.5, 1, 2]:
        clock.advance(delay)
        source.fail(OSError("boom"))
    assert log.formatted(source=hub) == [
        "camera cam failed: boom; retrying while viewers remain"
    ]

    clock.advance(4)
    source.push(b"1", 1.0)
    source.fail(OSError("bang"))
    assert log.formatted(source=hub) == [
        "camera cam failed: boom; retrying while viewers remain",
        "camera cam failed: bang; retrying while viewers remain",
    ]


# Keepalive


def test_keepalive_every_interval_without_new_frames() -> None:
    """
    With no new frame for the keepalive interval every sink is given the
    newest frame again, and again each further interval.
    """
    hub, source, clock = make_hub()
    sinks = [RecordingSink(), RecordingSink()]
    for sink in sinks:
        hub.subscribe(sink)
    source.push(b"1", 1.0)
    newest = hub.newest
    clock.advance(KEEPALIVE - EPS)
    assert [sink.keepalives for sink in sinks] == [[], []]
    clock.advance(EPS)
    assert [sink.keepalives for sink in sinks] == [[newest], [newest]]
    clock.advance(KEEPALIVE - EPS)
    assert [len(sink.keepalives) for sink in sinks] == [1, 1]
    clock.advance(EPS)
    assert [sink.keepalives for sink in sinks] == [[newest] * 2] * 2
    assert [len(sink.frames) for sink in sinks] == [1, 1]


def test_new_frame_resets_keepalive_timer() -> None:
    """
    A new frame postpones the keepalive to a full interval after it, and the
    keepalive then repeats that newer frame.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.push(b"1", 1.0)
    clock.advance(1.5)
    source.push(b"2", 2.0)
    clock.advance(KEEPALIVE - EPS)
    assert sink.keepalives == []
    clock.advance(EPS)
    assert [f.jpeg for f in sink.keepalives] == [b"2"]
    assert sink.calls == [
        ("frame", sink.frames[0]),
        ("frame", sink.frames[1]),
        ("keep_alive", sink.frames[1]),
    ]


def test_no_keepalive_without_sinks() -> None:
    """
    Without sinks no keepalive is sent, and none stays scheduled.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.push(b"1", 1.0)
    hub.unsubscribe(sink)
    clock.advance(KEEPALIVE * 3)
    assert sink.keepalives == []
    # Only the idle timer is left.
    assert len(clock.getDelayedCalls()) == 1


def test_no_keepalive_for_snapshot_only_camera() -> None:
    """
    A camera running only for a snapshot schedules no keepalive.
    """
    hub, source, clock = make_hub()
    d = hub.next_frame()
    source.push(b"1", 1.0)
    result_of(d)
    [idle_call] = clock.getDelayedCalls()
    assert idle_call.getTime() == IDLE


# Shutdown


def test_shutdown() -> None:
    """
    shutdown() closes every sink, fails waiting snapshots with
    CameraUnavailable, asks the source to stop and fires only once it has
    stopped; later frames reach nobody and nothing stays scheduled.
    """
    hub, source, clock = make_hub()
    sinks = [RecordingSink(), RecordingSink()]
    for sink in sinks:
        hub.subscribe(sink)
    source.push(b"1", 1.0)
    clock.advance(0.25)
    source.push(b"2", 2.0)
    clock.advance(1)
    waiter = hub.next_frame()  # the newest frame is stale: it waits

    done = hub.shutdown()
    for sink in sinks:
        assert sink.closed == 1
        assert sink.calls[-1] == ("closed", None)
    failure = failure_of(waiter)
    assert failure.check(CameraUnavailable)
    assert str(failure.value) == "camserve is shutting down"
    assert source.stop_requested
    assert source.stops == 1
    assert hub.viewers == 0
    assert not done.called

    source.push(b"3", 3.0)
    clock.advance(KEEPALIVE * 3)
    assert not done.called
    source.finish_stop()
    assert result_of(done) is None
    assert [len(sink.calls) for sink in sinks] == [3, 3]
    assert state(hub) is HubState.IDLE
    assert clock.getDelayedCalls() == []
    assert source.starts == 1


def test_subscribe_and_next_frame_after_shutdown_fail() -> None:
    """
    After shutdown(), subscribe() raises CameraUnavailable and next_frame()
    fails with it, without starting the source.
    """
    hub, source, _ = make_hub()
    assert result_of(hub.shutdown()) is None
    with pytest.raises(CameraUnavailable, match="shut down"):
        hub.subscribe(RecordingSink())
    assert failure_of(hub.next_frame()).check(CameraUnavailable)
    assert source.starts == 0
    assert hub.viewers == 0


def test_shutdown_while_stopping_stops_once() -> None:
    """
    shutdown() during an idle stop does not ask the source to stop again,
    fires once it has stopped, and does not restart it.
    """
    hub, source = stopping_hub()

    done = hub.shutdown()
    assert source.stops == 1
    assert not done.called
    source.finish_stop()
    assert result_of(done) is None
    assert source.starts == 1


def test_shutdown_while_failed_cancels_retry() -> None:
    """
    shutdown() of a failed camera waiting out its backoff fires at once and
    cancels the retry.
    """
    hub, source, clock = make_hub()
    sink = RecordingSink()
    hub.subscribe(sink)
    source.fail(OSError("boom"))
    assert result_of(hub.shutdown()) is None
    assert sink.closed == 1
    assert clock.getDelayedCalls() == []
    clock.advance(100)
    assert source.starts == 1


def test_single_frame_is_fresh_only_until_a_keepalive_would_be_due() -> None:
    """
    Before a second frame measures the interval, the newest frame counts as
    fresh for less than the keepalive interval; after that a caller waits
    for the next frame.
    """
    hub, source, clock = make_hub()
    hub.subscribe(RecordingSink())
    source.push(b"one", 1.0)
    clock.advance(KEEPALIVE - EPS)
    assert result_of(hub.next_frame()).jpeg == b"one"
    clock.advance(EPS)
    later = hub.next_frame()
    assert not later.called
    source.push(b"two", 2.0)
    assert result_of(later).jpeg == b"two"


# Consumers other than viewers


@implementer(IFrameSink)
class Consumer:
    """
    A sink that is no stream: it has a kind, no keepalive, and may fail on
    a frame or take its time to close.
    """

    def __init__(self, kind: str, *, fail_on: int | None = None) -> None:
        self.kind = kind
        self.fail_on = fail_on
        self.frames: list[Frame] = []
        self.closing: Deferred[None] | None = None

    def send_frame(self, frame: Frame) -> None:
        if frame.number == self.fail_on:
            raise ValueError("a consumer's bug")
        self.frames.append(frame)

    def camera_closed(self) -> Deferred[None] | None:
        return self.closing


def test_a_failing_sink_is_detached_and_disturbs_nothing(log: LogRecorder) -> None:
    """
    A sink that raises on a frame is logged once and fed no more; the sinks
    after it, a caller waiting for the frame and the keepalive schedule all
    get that frame as if nothing had happened.
    """
    hub, source, clock = make_hub()
    bad = Consumer("recorder", fail_on=1)
    good = RecordingSink()
    hub.subscribe(bad)
    hub.subscribe(good)
    waiting = hub.next_frame()
    source.push(b"1")
    assert [frame.jpeg for frame in good.frames] == [b"1"]
    assert result_of(waiting).jpeg == b"1"
    assert hub.consumers == {VIEWER: 1}
    clock.advance(KEEPALIVE)
    assert [frame.jpeg for frame in good.keepalives] == [b"1"]
    source.push(b"2")
    assert bad.frames == []
    assert [frame.jpeg for frame in good.frames] == [b"1", b"2"]
    troubles = log.troubles()
    assert len(troubles) == 1
    assert troubles[0].startswith(
        "camera cam: a recorder fed by it failed; it is fed no more\n"
    )
    assert "ValueError: a consumer's bug" in troubles[0]


def test_keepalives_go_only_to_sinks_that_ask() -> None:
    """
    A sink that is no stream (no L{IKeepAliveSink}) is never given
    keepalives; a stream beside it is.
    """
    hub, source, clock = make_hub()
    recorder = Consumer("recorder")
    hub.subscribe(recorder)
    source.push(b"1")
    clock.advance(KEEPALIVE * 3)
    assert [frame.jpeg for frame in recorder.frames] == [b"1"]
    stream = RecordingSink()
    hub.subscribe(stream)
    clock.advance(KEEPALIVE)
    assert [frame.jpeg for frame in stream.keepalives] == [b"1"]
    assert [frame.jpeg for frame in recorder.frames] == [b"1"]


def test_sinks_are_counted_by_kind() -> None:
    """
    Viewers are the sinks that show frames to a person (and those that do
    not say what they are); thumbnails, recorders and the like are counted
    apart, in C{consumers} and health.
    """
    hub, _, _ = make_hub()
    unnamed = RecordingSink()
    thumbnails = Consumer(THUMBNAIL)
    recorders = [Consumer("recorder"), Consumer("recorder")]
    for sink in (unnamed, thumbnails, *recorders):
        hub.subscribe(sink)
    hub.subscribe(recorders[0])
    assert hub.viewers == 1
    assert hub.consumers == {VIEWER: 1, THUMBNAIL: 1, "recorder": 2}
    health = hub.health()
    assert health["viewers"] == 1
    assert health["consumers"] == {VIEWER: 1, THUMBNAIL: 1, "recorder": 2}
    hub.unsubscribe(recorders[0])
    hub.unsubscribe(recorders[0])
    assert hub.consumers == {VIEWER: 1, THUMBNAIL: 1, "recorder": 1}


def test_shutdown_waits_for_sinks_to_finish() -> None:
    """
    A sink's C{camera_closed} may return a Deferred (a recorder writing out
    its file): shutdown fires once it has fired and the device is released,
    whichever comes last.
    """
    hub, source, _ = make_hub()
    recorder = Consumer("recorder")
    recorder.closing = Deferred()
    hub.subscribe(recorder)
    source.push(b"1")
    done = hub.shutdown()
    source.finish_stop()
    assert not done.called
    recorder.closing.callback(None)
    assert result_of(done) is None


def test_shutdown_waits_for_sinks_only_so_long(log: LogRecorder) -> None:
    """
    A sink that does not finish within the close timeout is logged, and
    shutdown goes on without it.
    """
    clock = Clock()
    source = PushSource()
    hub = CameraHub("cam", source, clock, close_timeout=3.0)
    recorder = Consumer("recorder")
    recorder.closing = Deferred()
    hub.subscribe(recorder)
    source.push(b"1")
    done = hub.shutdown()
    source.finish_stop()
    clock.advance(3.0 - EPS)
    assert not done.called
    clock.advance(EPS)
    assert result_of(done) is None
    assert log.formatted() == [
        (
            "camera cam: a recorder did not finish within 3 s of the camera's"
            " shutdown; not waiting for it"
        )
    ]


def test_dropped_frames_are_in_health() -> None:
    """
    A source that counts the frames it dropped (newest wins) has them in
    its hub's health; one that does not shows none.
    """
    hub, _, _ = make_hub()
    assert hub.health()["frames_dropped"] == 0

    @implementer(IDroppedFrames)
    class Dropping(PushSource):
        def frames_dropped(self) -> int:
            return 7

    counted = CameraHub("cam", Dropping(), Clock())
    assert counted.frames_dropped == 7
    assert counted.health()["frames_dropped"] == 7
