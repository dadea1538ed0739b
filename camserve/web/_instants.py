# -*- test-case-name: tests.test_export -*-
"""
Instants as a request gives them: ISO 8601 times or Unix seconds, alone or
as a span.
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


def span(
    start: str | None,
    end: str | None,
    *,
    now: float | None = None,
    length: float | None = None,
) -> tuple[float, float]:
    """
    The span from the instant C{start} to the instant C{end}, as L{instant}
    reads them.

    @param now: the end where C{end} is not given; without it, C{end} must
        be.
    @param length: how long before the end the start is where C{start} is
        not given; without it, C{start} must be.
    @raise ValueError: if either is missing or not a time, or the end is
        before the start.
    """
    try:
        last = now if not end and now is not None else instant(end or "")
        first = (
            last - length if not start and length is not None else instant(start or "")
        )
    except ValueError:
        raise ValueError(
            "start and end must be ISO 8601 times or Unix seconds"
        ) from None
    if last < first:
        raise ValueError("end must not be before start")
    return first, last
