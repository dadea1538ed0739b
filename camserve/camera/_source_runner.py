# -*- test-case-name: tests.test_hub -*-
"""
A camera's frame source in its life: started, stopped, and started again
with backoff after it fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed

from camserve.camera._events import CameraEvent
from camserve.camera._states import HubState

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.logger import Logger
    from twisted.python.failure import Failure

    from camserve.camera._events import Listeners
    from camserve.interfaces import IFrameSource


class SourceRunner:
    """
    Starts and stops one camera's frame source for its hub, and after the
    source fails or ends by itself starts it again with exponential backoff;
    says what the camera is doing and why it last failed, logs it, and tells
    the camera's listeners as it starts giving frames, fails (once per run
    of failures) and stops.

    Whether the source should run is the hub's to say: this starts it when
    asked, and calls C{settled} whenever the answer may have changed (the
    source stopped, or a backoff delay ended).

    All methods are called in the reactor thread.

    @ivar state: what the camera is doing.
    @ivar last_error: why the camera last failed, in one line; L{None} once
        it gives frames.
    @ivar active: whether the source was started and has not yet reported
        that it stopped.
    @ivar stopping: whether the source was asked to stop and has not yet.
    """

    def __init__(
        self,
        source: IFrameSource,
        clock: IReactorTime,
        listeners: Listeners,
        *,
        log: Logger,
        label: str,
        frame_arrived: Callable[[bytes, float], None],
        failed: Callable[[str], None],
        settled: Callable[[], None],
        backoff_initial: float,
        backoff_max: float,
    ) -> None:
        """
        @param source: where frames come from.
        @param clock: schedules the retries.
        @param listeners: told as the camera starts, fails and stops.
        @param log: logs what happens to the camera, as its hub's.
        @param label: what logs call the camera.
        @param frame_arrived: the source's frames go to this.
        @param failed: called with the reason, in one line, when the source
            fails.
        @param settled: called when the source stopped, or may be started
            again after failing.
        @param backoff_initial: first delay before starting a failed source
            again; it doubles with each further failure, up to
            C{backoff_max}.
        """
        self._source = source
        self._clock = clock
        self._listeners = listeners
        self._log = log
        self._label = label
        self._frame_arrived = frame_arrived
        self._failed = failed
        self._settled = settled
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = backoff_initial
        self._retry_call: IDelayedCall | None = None
        self._closed = False
        self._released: list[Deferred[None]] = []
        self.state = HubState.IDLE
        self.last_error: str | None = None
        self.active = False
        self.stopping = False

    @property
    def retrying(self) -> bool:
        """
        Whether a failed source waits for its backoff delay to end.
        """
        return self._retry_call is not None

    def start(self) -> None:
        """
        Start the source, unless it runs, or waits for its backoff delay, or
        the camera is shut down.
        """
        # A stopping source is started again once it reports that it
        # stopped; a failed one once its backoff delay has passed.
        if self.active or self._retry_call is not None or self._closed:
            return
        if self.state is not HubState.FAILED:
            self.state = HubState.STARTING
        self.active = True
        self.stopping = False
        self._source.start(self._frame_arrived, self._stopped)

    def stop(self) -> None:
        """
        Ask the running source to stop.
        """
        self.stopping = True
        self._source.stop()

    def running(self) -> None:
        """
        The source gives frames: its first since it started or failed.
        """
        if self.state is HubState.FAILED:
            self._log.info(
                "camera {name}: recovered, frames are flowing again", name=self._label
            )
        self.state = HubState.RUNNING
        self.last_error = None
        self._backoff = self._backoff_initial
        self._listeners.tell(CameraEvent.STARTED)

    def stand_down(self) -> None:
        """
        Nobody wants the camera any more: retry it no more, and stop it.
        """
        if self._retry_call is not None:
            self._retry_call.cancel()
            self._retry_call = None
        if not self.active:
            # A failed camera nobody watches is no longer being retried.
            self.state = HubState.IDLE
            self._listeners.tell(CameraEvent.STOPPED)
        elif not self.stopping:
            self.stop()

    def close(self) -> Deferred[None]:
        """
        Stop the source for good; what fires once it has stopped, and
        released its device.
        """
        self._closed = True
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        self._retry_call = None
        if not self.active:
            return succeed(None)
        released: Deferred[None] = Deferred()
        self._released.append(released)
        if not self.stopping:
            self.stop()
        return released

    def _stopped(self, failure: Failure | None) -> None:
        self.active = False
        was_stopping, self.stopping = self.stopping, False
        if failure is None and was_stopping:
            self.state = HubState.IDLE
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
            released, self._released = self._released, []
            for each in released:
                each.callback(None)
        else:
            self._settled()

    def _source_failed(self, failure: Failure | None) -> None:
        reason = "the camera stopped by itself" if failure is None else _reason(failure)
        first = self.state is not HubState.FAILED
        if first:
            # Once per run of failures: a camera that stays broken is not
            # reported again on every retry.
            self._log.warn(
                "camera {name} failed: {reason}; retrying while viewers remain",
                name=self._label,
                reason=reason,
            )
        self.state = HubState.FAILED
        self.last_error = reason
        if first:
            self._listeners.tell(CameraEvent.FAILED)
        self._failed(reason)

    def _retry(self) -> None:
        self._retry_call = None
        self._settled()


def _reason(failure: Failure) -> str:
    """
    A failure as one line: its message's first line, or its type's name.
    """
    lines = str(failure.value).strip().splitlines()
    return lines[0] if lines else type(failure.value).__name__
