# -*- test-case-name: tests.test_export -*-
"""
Instants as a request gives them: ISO 8601 times or Unix seconds.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def instant(text: str) -> float:
    """
    The Unix time C{text} gives: Unix seconds (C{1700000000.5}) or an ISO
    8601 time (C{2024-05-01T12:00:00Z}, C{2024-05-01T14:00:00.250+02:00});
    a time without a zone is UTC. A C{+} before a zone that a query string
    turned into a space (as C{+} means in one) is read as the C{+} it was.

    @raise ValueError: for anything else.
    """
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError("not a time")
        return seconds
    for candidate in (text, text.replace(" ", "+")):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise ValueError("not a time")
