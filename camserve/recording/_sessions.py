# -*- test-case-name: tests.test_wall_playback,tests.test_playback_routes -*-
"""
Playbacks in progress, each under a session name that only whoever started
it is told, so that its stream's page can control it.
"""

from __future__ import annotations

from secrets import token_urlsafe
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

MOST_SESSIONS = 64
"""The most playbacks of one kind in progress at once: each holds frames
read ahead, so that many would hold much memory."""


class Ending(Protocol):
    """
    Something in progress that says when it ends.
    """

    @property
    def ended(self) -> Deferred[None]:
        """
        Fires when it ends.
        """


_Kept = TypeVar("_Kept", bound=Ending)


class Sessions(Generic[_Kept]):
    """
    At most C{most} things in progress, each kept under a new, unguessable
    session name until it ends.
    """

    def __init__(self, most: int | None = None) -> None:
        """
        @param most: how many may be in progress at once; L{MOST_SESSIONS}
            unless given.
        """
        self._most = MOST_SESSIONS if most is None else most
        self._kept: dict[str, _Kept] = {}

    def add(self, kept: _Kept) -> str | None:
        """
        Keep C{kept} until it ends, under a new session name.

        @return: the session's name; L{None} if the most are in progress
            already.
        """
        if len(self._kept) >= self._most:
            return None
        session = token_urlsafe(16)
        self._kept[session] = kept
        kept.ended.addCallback(lambda _: self._kept.pop(session, None))
        return session

    def get(self, session: str) -> _Kept | None:
        """
        What is in progress under C{session}, if anything.
        """
        return self._kept.get(session)
