# -*- test-case-name: tests.test_hub -*-
"""
What a camera's hub is doing, and the error of a camera that gave no frame.
"""

from __future__ import annotations

import enum


class CameraUnavailable(Exception):  # noqa: N818 - reads as a state, like ConnectionLost
    """
    A camera gave no frame: it failed to open, failed, or was too slow to
    start. The message is one line, fit to show a viewer.
    """


class HubState(enum.Enum):
    """
    What a hub's camera is doing.
    """

    IDLE = "idle"
    """Not capturing: nobody is watching."""
    STARTING = "starting"
    """Started, no frame yet."""
    RUNNING = "running"
    """Delivering frames."""
    FAILED = "failed"
    """The last run failed; retried with backoff while someone watches."""
