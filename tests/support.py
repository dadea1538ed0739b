"""
Helpers shared by the tests: running tests on Twisted's real reactor, typed;
recording the log; finding a free port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from twisted.internet import reactor as _global_reactor
from twisted.logger import ILogObserver, LogLevel, formatEvent
from zope.interface import implementer

if TYPE_CHECKING:
    from twisted.logger import LogEvent

_Test = TypeVar("_Test", bound=Callable[..., Coroutine[Any, Any, None]])


def reactor_test(test: _Test) -> _Test:
    """
    Run an C{async} test on the real reactor (pytest-twisted's
    C{ensureDeferred}, which returns the test itself, marked).
    """
    return cast("_Test", pytest_twisted.ensureDeferred(test))


@implementer(ILogObserver)
class LogRecorder:
    """
    A log observer that keeps every event, in order (the C{log} fixture
    records the global log with one).
    """

    def __init__(self) -> None:
        self.events: list[LogEvent] = []

    def __call__(self, event: LogEvent) -> None:
        self.events.append(event)

    def formatted(
        self, level: LogLevel = LogLevel.warn, source: object = None
    ) -> list[str]:
        """
        The events at C{level} or above, formatted; if C{source} is given,
        only those logged by it (whose C{log_source} it is).
        """
        return [
            formatEvent(event)
            for event in self.events
            if _at_least(event, level)
            and (source is None or event.get("log_source") is source)
        ]

    def troubles(self, level: LogLevel = LogLevel.warn) -> list[str]:
        """
        The events at C{level} or above and those that carry a failure,
        formatted, each failure followed by its traceback.
        """
        described = []
        for event in self.events:
            failure = event.get("log_failure")
            if failure is None and not _at_least(event, level):
                continue
            text = formatEvent(event)
            if failure is not None:
                text += "\n" + failure.getTraceback()
            described.append(text)
        return described


def _at_least(event: LogEvent, level: LogLevel) -> bool:
    """
    Whether C{event} was logged at C{level} or above.
    """
    logged = event.get("log_level")
    return logged is not None and bool(logged >= level)


def free_port() -> int:
    """
    A TCP port on 127.0.0.1 that was free a moment ago.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


reactor: Any = _global_reactor
"""
The global reactor, for tests that run on it. Typed loosely: as imported,
Twisted types it as a union of its interfaces, which matches no single call.
"""
