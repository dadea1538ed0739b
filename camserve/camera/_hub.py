# -*- test-case-name: tests.test_hub -*-
"""
The hub: one per camera, between a frame source and everything fed by it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.logger import Logger
from zope.interface import implementer

from camserve._frame import Frame
from camserve.camera._events import CameraEvent, Listeners
from camserve.camera._sinks import Sinks
from camserve.camera._states import CameraUnavailable, HubState
from camserve.camera._waiters import Waiters
from camserve.interfaces import (
    VIEWER,
    IDroppedFrames,
    IEveryFrame,
    IFeed,
    IHealthDetails,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.python.failure import Failure

    from camserve.interfaces import IFrameSink, IFrameSource

_EWMA_WEIGHT = 0.125
"""How much each new frame interval moves the measured capture interval."""


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
        idle_timeout: float = 10.0,
        start_timeout: float = 10.0,
        keepalive_interval: float = 2.0,
        stall_timeout: float = 30.0,
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
        self._label = name if label is None else label
        self._source = source
        self._clock = clock
        self._idle_timeout = idle_timeout
        self._start_timeout = start_timeout
        self._keepalive_interval = keepalive_interval
        self._stall_timeout = stall_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = backoff_initial
        self._close_timeout = close_timeout

        self._sinks = Sinks(self._label, self.unsubscribe)
        self._waiters = Waiters(
            clock, start_timeout, self._no_frame_reason, self._demand_changed
        )

        self._state = HubState.IDLE
        self._last_error: str | None = None
        self._newest: Frame | None = None
        self._frames_captured = 0
        self._interval: float | None = None
        self._created_at = clock.seconds()

        self._source_active = False
        self._stopping = False
        self._closed = False
        self._shutdown_waiters: list[Deferred[None]] = []
        self._idle_call: IDelayedCall | None = None
        self._retry_call: IDelayedCall | None = None
        self._keepalive_call: IDelayedCall | None = None
        self._listeners = Listeners(self._label)

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
        if self._sinks.kept_alive and self._keepalive_call is None and self._newest:
            # A stream joining a camera that sends nothing new hears from it
            # all the same.
            self._schedule_keepalive()
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
            # A snapshot of an otherwise unwatched camera counts as a
            # short-lived viewer: the camera stays on for another idle timeout.
            if not self._sinks and not self._waiters:
                self._restart_idle_timer()
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
        if newest is None or self._state is not HubState.RUNNING or self._stopping:
            return None
        # Before a second frame has measured the interval, a frame counts as
        # fresh for as long as it would not yet be repeated as a keepalive.
        limit = 2 * self._interval if self._interval else self._keepalive_interval
        age = self._clock.seconds() - newest.received_at
        return newest if age < limit else None

    def _no_frame_reason(self) -> str:
        reason = f"camera {self.name} gave no frame within {self._start_timeout:g} s"
        if self._last_error is not None:
            reason += f" (last error: {self._last_error})"
        return reason

    def _demand_changed(self) -> None:
        if self._sinks or self._waiters:
            if self._idle_call is not None:
                self._idle_call.cancel()
                self._idle_call = None
            self._ensure_started()
        elif self._idle_call is None and not self._closed and self._winding_down():
            self._idle_call = self._clock.callLater(
                self._idle_timeout, self._idle_timeout_reached
            )

    def _winding_down(self) -> bool:
        """
        Whether, with nobody watching, there is something for the idle
        timeout to end: a running source, a pending retry, a failed state.
        """
        return (
            self._source_active
            or self._retry_call is not None
            or self._state is HubState.FAILED
        )

    def _restart_idle_timer(self) -> None:
        if self._idle_call is not None:
            self._idle_call.reset(self._idle_timeout)
        elif self._source_active:
            self._idle_call = self._clock.callLater(
                self._idle_timeout, self._idle_timeout_reached
            )

    def _idle_timeout_reached(self) -> None:
        self._idle_call = None
        if self._sinks or self._waiters:
            return
        if self._retry_call is not None:
            self._retry_call.cancel()
            self._retry_call = None
        if not self._source_active:
            # A failed camera nobody watches is no longer being retried.
            self._state = HubState.IDLE
            self._listeners.tell(CameraEvent.STOPPED)
        elif not self._stopping:
            self._log.info(
                "camera {name}: no viewers for {timeout:g} s, stopping it",
                name=self._label,
                timeout=self._idle_timeout,
            )
            self._stop_source()

    # The source

    def _ensure_started(self) -> None:
        # A stopping source is restarted once it reports that it stopped; a
        # failed one once its backoff delay has passed.
        if self._source_active or self._retry_call is not None or self._closed:
            return
        self._start_source()

    def _start_source(self) -> None:
        if self._state is not HubState.FAILED:
            self._state = HubState.STARTING
        self._source_active = True
        self._stopping = False
        self._source.start(self._frame_arrived, self._source_stopped)

    def _stop_source(self) -> None:
        self._stopping = True
        self._source.stop()

    def _retry(self) -> None:
        self._retry_call = None
        if self._sinks or self._waiters:
            self._ensure_started()

    def _frame_arrived(self, jpeg: bytes, captured_at: float) -> None:
        if self._stopping or not self._source_active:
            return
        now = self._clock.seconds()
        newest = self._newest
        if newest is not None and self._state is HubState.RUNNING:
            interval = now - newest.received_at
            self._interval = (
                interval
                if self._interval is None
                else self._interval + _EWMA_WEIGHT * (interval - self._interval)
            )
        self._frames_captured += 1
        frame = Frame(jpeg, captured_at, self._frames_captured, now, self.name)
        self._newest = frame
        if self._state is not HubState.RUNNING:
            self._camera_running()

        self._sinks.send(frame)
        if self._waiters:
            self._waiters.give(frame)
            self._demand_changed()
        self._schedule_keepalive()

    def _camera_running(self) -> None:
        if self._state is HubState.FAILED:
            self._log.info(
                "camera {name}: recovered, frames are flowing again", name=self._label
            )
        self._state = HubState.RUNNING
        self._last_error = None
        self._backoff = self._backoff_initial
        self._listeners.tell(CameraEvent.STARTED)

    def _source_stopped(self, failure: Failure | None) -> None:
        self._source_active = False
        was_stopping, self._stopping = self._stopping, False
        if failure is None and was_stopping:
            self._state = HubState.IDLE
            self._log.info("camera {name}: stopped, device released", name=self._label)
            self._listeners.tell(CameraEvent.STOPPED)
        else:
            self._source_failed(failure)
            if not self._closed:
                # The delay runs its course whether or not anyone is watching,
                # so demand arriving meanwhile cannot hammer a broken device.
                if self._retry_call is not None:
                    self._retry_call.cancel()
                self._retry_call = self._clock.callLater(self._backoff, self._retry)
                self._backoff = min(self._backoff * 2, self._backoff_max)

        if self._closed:
            waiters, self._shutdown_waiters = self._shutdown_waiters, []
            for waiter in waiters:
                waiter.callback(None)
        else:
            self._demand_changed()

    def _source_failed(self, failure: Failure | None) -> None:
        reason = "the camera stopped by itself" if failure is None else _reason(failure)
        if self._state is not HubState.FAILED:
            # Once per run of failures: a camera that stays broken is not
            # reported again on every retry.
            self._log.warn(
                "camera {name} failed: {reason}; retrying while viewers remain",
                name=self._label,
                reason=reason,
            )
        first = self._state is not HubState.FAILED
        self._state = HubState.FAILED
        self._last_error = reason
        if first:
            self._listeners.tell(CameraEvent.FAILED)
        self._waiters.fail(CameraUnavailable(f"camera {self.name} failed: {reason}"))

    # Keepalive

    def _schedule_keepalive(self) -> None:
        if self._keepalive_call is not None:
            self._keepalive_call.reset(self._keepalive_interval)
        elif self._sinks.kept_alive:
            self._keepalive_call = self._clock.callLater(
                self._keepalive_interval, self._keep_alive
            )

    def _keep_alive(self) -> None:
        self._keepalive_call = None
        newest = self._newest
        if newest is None or not self._sinks.kept_alive:
            return
        self._sinks.keep_alive(newest)
        self._keepalive_call = self._clock.callLater(
            self._keepalive_interval, self._keep_alive
        )

    # Reporting and shutdown

    @property
    def state(self) -> HubState:
        """
        What the camera is doing now.
        """
        return self._state

    @property
    def idle_timeout(self) -> float:
        """
        Seconds without demand before the source stops.
        """
        return self._idle_timeout

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
        return self._keepalive_interval

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
        if IDroppedFrames.providedBy(self._source):
            dropped: int = self._source.frames_dropped()
            return dropped
        return 0

    @property
    def frames_captured(self) -> int:
        """
        Frames received from the camera since the hub was made.
        """
        return self._frames_captured

    def health(self) -> dict[str, Any]:
        """
        The hub's state as a JSON-ready mapping.
        """
        running = self._state is HubState.RUNNING
        fps = 1 / self._interval if running and self._interval else 0.0
        return {
            "name": self.name,
            "driver": self.driver,
            "state": self._state.value,
            "last_error": self._last_error,
            "viewers": self.viewers,
            "consumers": self.consumers,
            "frames_captured": self._frames_captured,
            "frames_dropped": self.frames_dropped,
            "fps": round(fps, 2),
            "uptime": round(self._clock.seconds() - self._created_at, 3),
            "details": (
                self._source.health_details()
                if IHealthDetails.providedBy(self._source)
                else {}
            ),
        }

    def shutdown(self) -> Deferred[None]:
        """
        End every sink and waiter, stop the source, and fire once the device
        is released and the sinks have finished (those that take longer
        than the close timeout are logged and not waited for).
        """
        self._closed = True
        for call in (self._idle_call, self._retry_call, self._keepalive_call):
            if call is not None and call.active():
                call.cancel()
        self._idle_call = self._retry_call = self._keepalive_call = None
        self._waiters.fail(CameraUnavailable("camserve is shutting down"))
        closing = self._sinks.close(self._close_timeout, self._clock)
        released: Deferred[None]
        if not self._source_active:
            released = succeed(None)
        else:
            released = Deferred()
            self._shutdown_waiters.append(released)
            if not self._stopping:
                self._stop_source()
        if not any(not each.called for each in closing):
            return released
        done: Deferred[None] = Deferred()
        waited: list[Deferred[Any]] = [released, *closing]
        DeferredList(waited).addCallback(lambda _: done.callback(None))
        return done


def _reason(failure: Failure) -> str:
    """
    A failure as one line: its message's first line, or its type's name.
    """
    lines = str(failure.value).strip().splitlines()
    return lines[0] if lines else type(failure.value).__name__
