# -*- test-case-name: tests.test_site -*-
"""
The access log's lines: the combined log format, with no API token in them.
"""

from __future__ import annotations

from typing import Any

from twisted.web.http import combinedLogFormatter

from camserve.access._tokens import scrub


class _Scrubbed:
    """
    A request as the access log sees it: its URI and C{Referer} without the
    value of any C{token} query argument, which stands for a login.
    """

    def __init__(self, request: Any) -> None:
        self._request = request
        self.uri = scrub(request.uri)

    def getHeader(self, name: bytes) -> bytes | None:
        """
        The request's header C{name}, a C{Referer} scrubbed.
        """
        value: bytes | None = self._request.getHeader(name)
        if value is not None and name.lower() == b"referer":
            return scrub(value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def access_log_line(timestamp: str, request: Any) -> str:
    """
    The access log's line for C{request}, in the combined log format, with
    no token in it.
    """
    line: str = combinedLogFormatter(timestamp, _Scrubbed(request))
    return line
