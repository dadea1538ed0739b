# -*- test-case-name: tests.test_reload -*-
"""
Services that read something again when the process gets C{SIGHUP}.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service

if TYPE_CHECKING:
    from types import FrameType


class HangupService(Service):
    """
    A service that calls L{reload} in the reactor thread on each C{SIGHUP}
    while it runs, and leaves C{SIGHUP} as it found it when it stops.

    @ivar _reactor: provides C{IReactorFromThreads}.
    """

    _reactor: Any
    _previous_handler: Any = None

    def startService(self) -> None:
        """
        Reload on C{SIGHUP} from now on.
        """
        super().startService()
        if hasattr(signal, "SIGHUP"):
            self._previous_handler = signal.signal(signal.SIGHUP, self._hung_up)

    def stopService(self) -> Any:
        """
        Leave C{SIGHUP} as it was.
        """
        if hasattr(signal, "SIGHUP") and self._previous_handler is not None:
            signal.signal(signal.SIGHUP, self._previous_handler)
            self._previous_handler = None
        return super().stopService()

    def _hung_up(self, _signal: int, _frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of whatever the main
        # thread was doing: the reload itself waits for the reactor.
        self._reactor.callFromThread(self.reload)

    def reload(self) -> object:
        """
        Read again what this service reads; overridden.
        """
        raise NotImplementedError
