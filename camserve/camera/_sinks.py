# -*- test-case-name: tests.test_hub -*-
"""
The sinks a hub feeds: who they are, which of them want keepalives or every
frame, feeding them each frame, and closing them.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.defer import maybeDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from camserve.interfaces import VIEWER, IKeepAliveSink

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime

    from camserve._frame import Frame
    from camserve.interfaces import IFrameSink


class Sinks:
    """
    The sinks of one camera's hub, each with its kind (a sink without
    C{kind} counts as a L{VIEWER}). A sink that raises is logged once and
    handed to C{failed}, which the hub detaches it with; the sinks after it
    are fed all the same.

    Feeding a frame allocates nothing: the sinks are kept as tuples, made
    again only when a sink comes or goes.
    """

    _log = Logger()

    def __init__(self, label: str, failed: Callable[[IFrameSink], None]) -> None:
        """
        @param label: what logs call the camera.
        @param failed: called with a sink that raised, to detach it.
        """
        self._label = label
        self._failed = failed
        self._kinds_of: dict[IFrameSink, str] = {}
        self._kinds: Counter[str] = Counter()
        self._every_frame: dict[IFrameSink, int] = {}
        self._all: tuple[IFrameSink, ...] = ()
        self.kept_alive: tuple[IKeepAliveSink, ...] = ()
        """The sinks that are sent keepalives: HTTP streams."""

    def __bool__(self) -> bool:
        return bool(self._all)

    def __contains__(self, sink: IFrameSink) -> bool:
        return sink in self._kinds_of

    def __iter__(self) -> Iterator[IFrameSink]:
        return iter(self._all)

    def add(self, sink: IFrameSink) -> None:
        """
        Feed C{sink} from now on.
        """
        kind = str(getattr(sink, "kind", VIEWER))
        self._kinds_of[sink] = kind
        self._kinds[kind] += 1
        if getattr(sink, "every_frame", False):
            self._every_frame[sink] = int(getattr(sink, "size", 1))
        self._changed()

    def remove(self, sink: IFrameSink) -> bool:
        """
        Feed C{sink} no more; whether it was fed.
        """
        kind = self._kinds_of.pop(sink, None)
        if kind is None:
            return False
        self._kinds[kind] -= 1
        if not self._kinds[kind]:
            del self._kinds[kind]
        self._every_frame.pop(sink, None)
        self._changed()
        return True

    def _changed(self) -> None:
        self._all = tuple(self._kinds_of)
        self.kept_alive = tuple(
            sink for sink in self._all if IKeepAliveSink.providedBy(sink)
        )

    def count(self, kind: str) -> int:
        """
        How many sinks of C{kind} there are.
        """
        return self._kinds[kind]

    @property
    def counts(self) -> dict[str, int]:
        """
        How many sinks there are, by kind.
        """
        return dict(self._kinds)

    @property
    def every_frame(self) -> int | None:
        """
        The most frames a sink that wants every frame may wait for; L{None}
        if none wants every frame.
        """
        return max(self._every_frame.values(), default=None)

    def send(self, frame: Frame) -> None:
        """
        Give every sink C{frame}.
        """
        # Not shared with keep_alive through a callable: this loop runs for
        # every viewer on every frame.
        for sink in self._all:
            try:
                sink.send_frame(frame)
            except Exception:  # noqa: BLE001 - a sink's bug must not stop the others
                self._fail(sink)

    def keep_alive(self, frame: Frame) -> None:
        """
        Give the sinks that want keepalives C{frame} again.
        """
        for sink in self.kept_alive:
            try:
                sink.keep_alive(frame)
            except Exception:  # noqa: BLE001 - a sink's bug must not stop the others
                self._fail(sink)

    def _fail(self, sink: IFrameSink) -> None:
        """
        C{sink} raised (the exception being handled): log it and detach it.
        """
        self._log.failure(
            "camera {name}: a {kind} fed by it failed; it is fed no more",
            Failure(),
            name=self._label,
            kind=self._kinds_of.get(sink, "sink"),
        )
        self._failed(sink)

    def close(self, timeout: float, clock: IReactorTime) -> list[Deferred[Any]]:
        """
        Tell every sink the camera is closed, and forget them all; for each,
        what fires once it has finished, failed, or taken longer than
        C{timeout} seconds (each logged).
        """
        kinds = self._kinds_of
        self._kinds_of, self._kinds, self._every_frame = {}, Counter(), {}
        self._changed()
        return [self._close(sink, kind, timeout, clock) for sink, kind in kinds.items()]

    def _close(
        self, sink: IFrameSink, kind: str, timeout: float, clock: IReactorTime
    ) -> Deferred[Any]:
        def failed(failure: Failure) -> None:
            if failure.check(defer.TimeoutError):
                self._log.warn(
                    "camera {name}: a {kind} did not finish within {timeout:g} s"
                    " of the camera's shutdown; not waiting for it",
                    name=self._label,
                    kind=kind,
                    timeout=timeout,
                )
            else:
                self._log.failure(
                    "camera {name}: a {kind} failed as the camera shut down",
                    failure,
                    name=self._label,
                    kind=kind,
                )

        closing: Deferred[Any] = maybeDeferred(sink.camera_closed)
        if not closing.called:
            closing.addTimeout(timeout, clock)
        return closing.addErrback(failed)
