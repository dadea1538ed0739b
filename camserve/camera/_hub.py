# -*- test-case-name: tests.test_hub -*-
"""
The hub: one per camera, between a frame source and everything fed by it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.logger import Logger
from zope.interface import implementer

from camserve._defaults import (
    IDLE_TIMEOUT,
    KEEPALIVE,
    STALL_TIMEOUT,
    START_TIMEOUT,
)
from camserve._frame import Frame
from camserve.camera._demand import Demand
from camserve.camera._events import Listeners
from camserve.camera._frame_rate import FrameRate
from camserve.camera._health import HubHealth
from camserve.camera._keepalive import KeepAlive
from camserve.camera._sinks import Sinks
from camserve.camera._source_runner import SourceRunner
from camserve.camera._states import CameraUnavailable, HubState
from camserve.camera._waiters import Waiters
from camserve.interfaces import (
    VIEWER,
    IEveryFrame,
    IFeed,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorTime

    from camserve.camera._events import CameraEvent
    from camserve.interfaces import IFrameSink, IFrameSource


@implementer(IFeed)
class CameraHub:
    """
    Owns one camera's frame source, its sinks and its newest frame.

    The source runs only while there is demand: a subscribed sink, or a
    caller of L{next_frame} waiting for a frame. When demand has been gone for
    the idle timeout the source is stopped, which releases the device; new
    demand starts it again. A source that fails or ends is restarted with
    exponential backoff while demand remains, and sinks stay subscribed
    across failures. Each frame reaches every sink once, in order; when the
    source sends nothing new for the keepalive interval, the sinks that ask
    for it (L{IKeepAliveSink}, HTTP streams) are given the newest frame
    again. A sink that raises is logged and detached, and disturbs nothing
    else. Sinks are counted by their C{kind}; L{viewers} are those that show
    frames to a person.

    All methods are called in the reactor thread.
    """

    _log = Logger()

    def __init__(
        self,
        name: str,
        source: IFrameSource,
        clock: IReactorTime,
        *,
        driver: str = "",
        group: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        start_timeout: float = START_TIMEOUT,
        keepalive_interval: float = KEEPALIVE,
        stall_timeout: float = STALL_TIMEOUT,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        label: str | None = None,
        close_timeout: float = 5.0,
    ) -> None:
        """
        @param name: the camera's name, for pages, health and logs.
        @param source: where frames come from.
        @param clock: schedules the timeouts; the reactor, or a C{Clock}.
        @param driver: the driver's registered name, for health.
        @param group: the group of cameras the grid shows it with; L{None}
            for none. A public attribute, which a reload may change.
        @param idle_timeout: seconds without demand before the source stops.
        @param start_timeout: seconds a caller of L{next_frame} waits.
        @param keepalive_interval: seconds without a new frame before sinks
            are given the newest frame again.
        @param stall_timeout: seconds a viewer's connection may stay full
            before the viewer is presumed gone (the hub keeps it for them).
        @param backoff_initial: first delay before restarting a failed source;
            it doubles with each further failure, up to C{backoff_max}.
        @param label: what logs call the camera; its name by default.
        @param close_timeout: seconds L{shutdown} waits for sinks to finish
            what they do with frames (a recorder's file, say).
        """
        self.name = name
        self.driver = driver
        self.group = group
        self._label = name if label is None else label
        self._source = source
        self._clock = clock
        self._start_timeout = start_timeout
        self._stall_timeout = stall_timeout
        self._close_timeout = close_timeout

        self._sinks = Sinks(self._label, self.unsubscribe)
        self._waiters = Waiters(
            clock, start_timeout, self._no_frame_reason, self._demand_changed
        )
        self._listeners = Listeners(self._label)
        self._run = SourceRunner(
            source,
            clock,
            self._listeners,
            log=self._log,
            label=self._label,
            frame_arrived=self._frame_arrived,
            failed=self._source_failed,
            settled=self._demand_changed,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
        )
        self._demand = Demand(
            clock,
            idle_timeout,
            self._run,
            self._wanted,
            log=self._log,
            label=self._label,
        )
        self._keepalive = KeepAlive(clock, keepalive_interval, self._sinks)
        self._rate = FrameRate()
        self._health = HubHealth(clock, source, self._run, self._sinks, self._rate)
        self._newest: Frame | None = None
        self._closed = False

    # Following

    def follow(self, listener: Callable[[CameraEvent], object]) -> None:
        """
        Call C{listener} with L{CameraEvent.STARTED}, L{CameraEvent.FAILED}
        (once per run of failures) and L{CameraEvent.STOPPED} as the camera
        starts giving frames, fails, and stops for want of viewers.
        """
        self._listeners.add(listener)

    def unfollow(self, listener: Callable[[CameraEvent], object]) -> None:
        """
        Stop calling C{listener}; one not following is ignored.
        """
        self._listeners.remove(listener)

    # Demand

    def subscribe(self, sink: IFrameSink) -> None:
        """
        Feed C{sink} every new frame from now on, starting the camera if
        needed.
        """
        if self._closed:
            raise CameraUnavailable(f"camera {self.name} is shut down")
        if sink in self._sinks:
            return
        wanted = self._sinks.every_frame
        self._sinks.add(sink)
        self._sinks_changed(wanted)

    def unsubscribe(self, sink: IFrameSink) -> None:
        """
        Stop feeding C{sink}; unknown sinks are ignored.
        """
        wanted = self._sinks.every_frame
        if self._sinks.remove(sink):
            self._sinks_changed(wanted)

    def _sinks_changed(self, wanted: int | None) -> None:
        """
        A sink came or went: ask the source for every frame (or only the
        newest) if the sinks now want otherwise than C{wanted}, keep the
        streams alive, and start or stop the camera as demand asks.
        """
        if self._sinks.every_frame != wanted and IEveryFrame.providedBy(self._source):
            self._source.keep_every_frame(self._sinks.every_frame)
        self._keepalive.sinks_changed()
        self._demand_changed()

    def next_frame(self) -> Deferred[Frame]:
        """
        A fresh frame: the newest one if the camera is running and it is
        younger than two frame intervals, else the next one to arrive.

        Waiting counts as demand, so this starts an idle camera. The result
        fails with L{CameraUnavailable} if the camera fails before giving a
        frame or gives none within the start timeout; cancelling it stops the
        wait.
        """
        if self._closed:
            return fail(CameraUnavailable(f"camera {self.name} is shut down"))
        fresh = self.fresh_frame()
        if fresh is not None:
            self._demand.fresh_frame_taken()
            return succeed(fresh)
        waiter = self._waiters.wait()
        self._demand_changed()
        return waiter

    def fresh_frame(self) -> Frame | None:
        """
        The newest frame if it is from the current run and younger than two
        frame intervals (what L{next_frame} answers at once), else L{None}.
        """
        newest = self._newest
        run = self._run
        if newest is None or run.state is not HubState.RUNNING or run.stopping:
            return None
        # Before a second frame has measured the interval, a frame counts as
        # fresh for as long as it would not yet be repeated as a keepalive.
        interval = self._rate.interval
        limit = 2 * interval if interval else self._keepalive.interval
        age = self._clock.seconds() - newest.received_at
        return newest if age < limit else None

    def _no_frame_reason(self) -> str:
        reason = f"camera {self.name} gave no frame within {self._start_timeout:g} s"
        if self._run.last_error is not None:
            reason += f" (last error: {self._run.last_error})"
        return reason

    def _wanted(self) -> bool:
        return bool(self._sinks or self._waiters)

    def _demand_changed(self) -> None:
        self._demand.changed()

    # Frames

    def _frame_arrived(self, jpeg: bytes, captured_at: float) -> None:
        run = self._run
        if run.stopping or not run.active:
            return
        now = self._clock.seconds()
        rate = self._rate
        starting = run.state is not HubState.RUNNING
        if starting:
            rate.restart()
        rate.add(now, captured_at)
        frame = Frame(jpeg, captured_at, rate.count, now, self.name)
        self._newest = frame
        if starting:
            run.running()

        self._sinks.send(frame)
        if self._waiters:
            self._waiters.give(frame)
            self._demand_changed()
        self._keepalive.frame_sent(frame)

    def _source_failed(self, reason: str) -> None:
        self._waiters.fail(CameraUnavailable(f"camera {self.name} failed: {reason}"))

    # Reporting and shutdown

    @property
    def state(self) -> HubState:
        """
        What the camera is doing now.
        """
        return self._run.state

    @property
    def idle_timeout(self) -> float:
        """
        Seconds without demand before the source stops.
        """
        return self._demand.idle_timeout

    @property
    def start_timeout(self) -> float:
        """
        Seconds a caller of L{next_frame} waits.
        """
        return self._start_timeout

    @property
    def keepalive_interval(self) -> float:
        """
        Seconds without a new frame before sinks get the newest again.
        """
        return self._keepalive.interval

    @property
    def stall_timeout(self) -> float:
        """
        Seconds a viewer's connection may stay full before the viewer is
        presumed gone.
        """
        return self._stall_timeout

    @property
    def newest(self) -> Frame | None:
        """
        The newest frame received, however old.
        """
        return self._newest

    @property
    def viewers(self) -> int:
        """
        How many sinks of kind L{VIEWER} are subscribed: people watching.
        """
        return self._sinks.count(VIEWER)

    @property
    def consumers(self) -> dict[str, int]:
        """
        How many sinks are subscribed, by kind.
        """
        return self._sinks.counts

    @property
    def frames_dropped(self) -> int:
        """
        Frames the source replaced with newer ones before they reached the
        hub (newest wins); 0 for a source that does not count them.
        """
        return self._health.frames_dropped

    @property
    def frames_captured(self) -> int:
        """
        Frames received from the camera since the hub was made.
        """
        return self._rate.count

    def health(self) -> dict[str, Any]:
        """
        The hub's state as a JSON-ready mapping: the camera's C{name},
        C{driver}, C{state}, C{last_error}, C{viewers}, C{consumers} by kind,
        C{frames_captured}, C{frames_dropped}, C{fps} (measured over the
        last seconds), C{uptime} and the driver's own C{details}.
        """
        return {"name": self.name, "driver": self.driver, **self._health.report()}

    def shutdown(self) -> Deferred[None]:
        """
        End every sink and waiter, stop the source, and fire once the device
        is released and the sinks have finished (those that take longer
        than the close timeout are logged and not waited for).
        """
        self._closed = True
        self._demand.close()
        self._keepalive.stop()
        self._waiters.fail(CameraUnavailable("camserve is shutting down"))
        closing = self._sinks.close(self._close_timeout, self._clock)
        released = self._run.close()
        if not any(not each.called for each in closing):
            return released
        done: Deferred[None] = Deferred()
        waited: list[Deferred[Any]] = [released, *closing]
        DeferredList(waited).addCallback(lambda _: done.callback(None))
        return done
