# -*- test-case-name: tests.test_tokens -*-
"""
The API token a request may carry in its C{token} query argument, which a
camera's page passes on to its own requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.web.iweb import IRequest

DEFAULT_SECONDS = 3600
"""How long a token lasts unless asked otherwise: an hour."""


def token_of(request: IRequest) -> str | None:
    """
    The C{token} query argument of C{request}, if it has one.
    """
    values = (request.args or {}).get(b"token")
    return values[-1].decode("utf-8", "replace") if values else None
