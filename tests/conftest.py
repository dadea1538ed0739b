"""
Fixtures shared by the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support import LogRecorder
from twisted.logger import globalLogPublisher

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def log() -> Iterator[LogRecorder]:
    """
    Every event of the global log during the test, and during the teardown
    of every fixture that depends on this one (pytest tears those down
    first).
    """
    recorder = LogRecorder()
    globalLogPublisher.addObserver(recorder)
    yield recorder
    globalLogPublisher.removeObserver(recorder)
