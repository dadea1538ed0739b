# -*- test-case-name: tests.test_retention -*-
"""
The segments being written now, which retention never deletes.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class OpenSegments:
    """
    The segments being written, by their path without a suffix, shared by
    the writer threads and retention's: a writer adds a segment before it
    makes its folder or files, and removes it once they are closed, so that
    retention, which deletes only what it finds closed while it holds the
    lock, never deletes a segment being written nor the folder it is made
    in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[Path] = set()

    def add(self, base: Path) -> None:
        """
        The segment at C{base} is about to be written.
        """
        with self._lock:
            self._open.add(base)

    def remove(self, base: Path) -> None:
        """
        The segment at C{base} is closed.
        """
        with self._lock:
            self._open.discard(base)

    def __contains__(self, base: Path) -> bool:
        with self._lock:
            return base in self._open

    @contextmanager
    def closed(self, base: Path) -> Iterator[bool]:
        """
        Whether the segment at C{base} is closed, holding the lock for the
        block, so that no writer opens it meanwhile.
        """
        with self._lock:
            yield base not in self._open

    @contextmanager
    def unused(self, folder: Path) -> Iterator[bool]:
        """
        Whether no open segment is in C{folder}, holding the lock for the
        block, so that no writer opens one there meanwhile.
        """
        with self._lock:
            yield all(base.parent != folder for base in self._open)
