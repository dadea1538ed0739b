# -*- test-case-name: tests.test_playback_routes -*-
"""
A recordings folder as playback and export read it: each camera's catalog,
its activity, and the playbacks in progress, by session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camserve.recording._activity_reader import ActivityIndex
from camserve.recording._catalog import Catalog
from camserve.recording._catalog_files import SAFE_NAME
from camserve.recording._sessions import Sessions

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from camserve.recording._catalog_files import Worker
    from camserve.recording._playback_live import LivePlayback
    from camserve.recording._wall_playback import WallPlayback


class Recordings:
    """
    The recordings of every camera, under C{<folder>/<camera>/}, where the
    folder is the one cameras record in now: a reload that moves it moves
    what is played back and exported.

    @ivar activity: the activity of every camera's segments.
    @ivar playbacks: the playbacks of one camera in progress.
    @ivar walls: the playbacks of several cameras in progress.
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
        self.playbacks: Sessions[LivePlayback] = Sessions()
        self.walls: Sessions[WallPlayback] = Sessions()

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
