# -*- test-case-name: tests.test_hub -*-
"""
A camera runs while someone wants its frames, and stops once nobody has for
the idle timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camserve.camera._states import HubState

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.logger import Logger

    from camserve.camera._source_runner import SourceRunner


class Demand:
    """
    Starts a camera's source for those who want its frames (a hub's
    subscribed sinks, and those waiting for its next frame), and stops it
    once nobody has wanted them for the idle timeout, which releases the
    device and ends the retries of a failed one.

    All methods are called in the reactor thread.
    """

    def __init__(
        self,
        clock: IReactorTime,
        idle_timeout: float,
        run: SourceRunner,
        wanted: Callable[[], bool],
        *,
        log: Logger,
        label: str,
    ) -> None:
        """
        @param clock: counts the idle timeout down.
        @param idle_timeout: seconds without demand before the source stops.
        @param run: the camera's source.
        @param wanted: whether anyone wants the camera's frames now.
        @param log: logs what happens to the camera, as its hub's.
        @param label: what logs call the camera.
        """
        self._clock = clock
        self._idle_timeout = idle_timeout
        self._run = run
        self._wanted = wanted
        self._log = log
        self._label = label
        self._idle_call: IDelayedCall | None = None
        self._closed = False

    @property
    def idle_timeout(self) -> float:
        """
        Seconds without demand before the source stops.
        """
        return self._idle_timeout

    def changed(self) -> None:
        """
        Demand came or went, or the source settled: start the camera for
        those who want it, or count down to stopping it.
        """
        if self._wanted():
            if self._idle_call is not None:
                self._idle_call.cancel()
                self._idle_call = None
            self._run.start()
        elif self._idle_call is None and not self._closed and self._winding_down():
            self._idle_call = self._clock.callLater(
                self._idle_timeout, self._idle_timeout_reached
            )

    def fresh_frame_taken(self) -> None:
        """
        Someone took the newest frame at once: a snapshot of an otherwise
        unwatched camera counts as a short-lived viewer, and the camera stays
        on for another idle timeout.
        """
        if self._wanted():
            return
        if self._idle_call is not None:
            self._idle_call.reset(self._idle_timeout)
        elif self._run.active:
            self._idle_call = self._clock.callLater(
                self._idle_timeout, self._idle_timeout_reached
            )

    def close(self) -> None:
        """
        Count down no more: the camera is shut down.
        """
        self._closed = True
        if self._idle_call is not None and self._idle_call.active():
            self._idle_call.cancel()
        self._idle_call = None

    def _winding_down(self) -> bool:
        """
        Whether, with nobody watching, there is something for the idle
        timeout to end: a running source, a pending retry, a failed state.
        """
        run = self._run
        return run.active or run.retrying or run.state is HubState.FAILED

    def _idle_timeout_reached(self) -> None:
        self._idle_call = None
        if self._wanted():
            return
        run = self._run
        if run.active and not run.stopping:
            self._log.info(
                "camera {name}: no viewers for {timeout:g} s, stopping it",
                name=self._label,
                timeout=self._idle_timeout,
            )
        run.stand_down()
