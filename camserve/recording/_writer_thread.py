# -*- test-case-name: tests.test_recording_service -*-
"""
A thread of its own for one camera's writer (or for retention), running
the jobs it is given one after another.
"""

from __future__ import annotations

import threading
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorFromThreads

_Result = TypeVar("_Result")


class WriterThread:
    """
    A daemon thread that runs jobs in the order given, each result (or
    failure) handed back to the reactor thread.

    Lighter than a thread pool's job (no context carried across, nothing
    made per job but its L{Deferred}), which matters at a camera's rate:
    one job a frame. What waits is bounded by its callers: a recorder
    gives it one job at a time.
    """

    def __init__(self, reactor: IReactorFromThreads, name: str) -> None:
        """
        @param reactor: where results are handed back.
        @param name: the thread's name.
        """
        self._reactor = reactor
        self._name = name
        self._jobs: SimpleQueue[tuple[Callable[[], Any], Deferred[Any]] | None] = (
            SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def __call__(self, job: Callable[[], _Result]) -> Deferred[_Result]:
        """
        Run C{job} in the thread, after the jobs given before it; the thread
        starts with the first job.

        @return: fires in the reactor thread with what C{job} returns, or
            fails with what it raises.
        """
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=self._name, daemon=True
            )
            self._thread.start()
        done: Deferred[_Result] = Deferred()
        self._jobs.put((job, done))
        return done

    def stop(self) -> None:
        """
        End the thread once the jobs given are done.
        """
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, done = item
            try:
                result = job()
            except BaseException:  # noqa: BLE001 - handed to the reactor, as a thread pool's job's is
                self._reactor.callFromThread(done.errback, Failure())
            else:
                self._reactor.callFromThread(done.callback, result)
