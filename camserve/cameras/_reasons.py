# -*- test-case-name: tests.test_pi,tests.test_picamera2 -*-
"""
Saying in one line why a camera library failed.
"""

from __future__ import annotations


def innermost_reason(error: BaseException) -> str:
    """
    The first line of the innermost explicitly chained cause of C{error}
    (camera libraries wrap the specific reason in general ones), or its
    type's name.
    """
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
