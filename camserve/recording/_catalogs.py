# -*- test-case-name: tests.test_playback_routes -*-
"""
A recordings folder as playback and export read it: each camera's catalog,
its activity, and the playbacks in progress, by session.
"""

from __future__ import annotations

from secrets import token_urlsafe
from typing import TYPE_CHECKING

from camserve.recording._activity_reader import ActivityIndex
from camserve.recording._catalog import Catalog
from camserve.recording._catalog_files import SAFE_NAME

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from camserve.recording._catalog_files import Worker
    from camserve.recording._playback_live import LivePlayback
    from camserve.recording._wall_playback import WallPlayback

MOST_PLAYBACKS = 64
"""The most playbacks of one camera in progress at once: each holds a few
frames read ahead, so that many would hold much memory."""
MOST_WALLS = 64
"""The most playbacks of several cameras in progress at once."""


class Recordings:
    """
    The recordings of every camera, under C{<folder>/<camera>/}, where the
    folder is the one cameras record in now: a reload that moves it moves
    what is played back and exported.

    @ivar activity: the activity of every camera's segments.
    """

    def __init__(self, folder: Callable[[], Path | None], work: Worker) -> None:
        """
        @param folder: the recordings folder now; L{None} while there is
            none.
        @param work: reads the files, away from the reactor.
        """
        self._folder = folder
        self._work = work
        self.activity = ActivityIndex(work)
        self._catalogs: dict[str, Catalog] = {}
        self._catalogs_in: Path | None = None
        self._playbacks: dict[str, LivePlayback] = {}
        self._walls: dict[str, WallPlayback] = {}

    @property
    def work(self) -> Worker:
        """
        Runs blocking work on the recordings away from the reactor.
        """
        return self._work

    @property
    def folder(self) -> Path | None:
        """
        The recordings folder; L{None} while there is none.
        """
        return self._folder()

    def catalog(self, camera: str) -> Catalog | None:
        """
        The catalog of C{camera}'s recordings, made on first use; L{None}
        without a recordings folder, or for a name that is no folder's
        (only letters, digits, C{-} and C{_} are), which has none.
        """
        folder = self._folder()
        if folder is None or SAFE_NAME.fullmatch(camera) is None:
            return None
        if folder != self._catalogs_in:
            # Playbacks going on keep the catalogs they have.
            self._catalogs, self._catalogs_in = {}, folder
        catalog = self._catalogs.get(camera)
        if catalog is None:
            catalog = self._catalogs[camera] = Catalog(folder / camera, self._work)
        return catalog

    def add_playback(self, playback: LivePlayback) -> str | None:
        """
        Keep C{playback} until it ends, under a new session name, which only
        the one who started it is told.

        @return: the session's name; L{None} if L{MOST_PLAYBACKS} are in
            progress already.
        """
        if len(self._playbacks) >= MOST_PLAYBACKS:
            return None
        session = token_urlsafe(12)
        self._playbacks[session] = playback
        playback.ended.addCallback(lambda _: self._playbacks.pop(session, None))
        return session

    def playback(self, camera: str, session: str) -> LivePlayback | None:
        """
        The playback of C{camera} in progress under C{session}, if any.
        """
        playback = self._playbacks.get(session)
        return playback if playback is not None and playback.name == camera else None

    def add_wall(self, wall: WallPlayback) -> str | None:
        """
        Keep C{wall}, a playback of several cameras, until it ends, under a
        new session name, which only the one who started it is told.

        @return: the session's name; L{None} if L{MOST_WALLS} are in
            progress already.
        """
        if len(self._walls) >= MOST_WALLS:
            return None
        session = token_urlsafe(16)
        self._walls[session] = wall
        wall.ended.addCallback(lambda _: self._walls.pop(session, None))
        return session

    def wall(self, session: str) -> WallPlayback | None:
        """
        The playback of several cameras in progress under C{session}, if
        any.
        """
        return self._walls.get(session)
