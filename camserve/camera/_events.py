# -*- test-case-name: tests.test_handles -*-
"""
What happens to a camera, as those who follow it hear it.
"""

from __future__ import annotations

import enum


class CameraEvent(enum.Enum):
    """
    A moment in a camera's life.
    """

    ADDED = "added"
    """The camera is served (at start, or added by a reload)."""
    REMOVED = "removed"
    """The camera is no longer served; those it fed were closed."""
    REPLACED = "replaced"
    """The camera was made again (a reload changed it); those who followed
    it through its handle follow the new one."""
    STARTED = "started"
    """The camera gives frames: its first after a start or a failure."""
    FAILED = "failed"
    """The camera failed; it is retried while someone watches."""
    STOPPED = "stopped"
    """The camera stopped, nobody watching, and released its device."""
