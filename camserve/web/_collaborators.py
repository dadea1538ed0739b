# -*- test-case-name: tests.test_server_app,tests.test_login -*-
"""
What a server app is given from outside the web app: a way to reload the
config file, and one to mint API tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred

    from camserve.web._user import User


class Reloaded(Protocol):
    """
    What a reload of the config file did, as C{POST /api/reload} answers it.
    """

    @property
    def error(self) -> str | None:
        """
        The file's mistake, which changed nothing; L{None} if it was applied.
        """

    def as_json(self) -> dict[str, Any]:
        """
        The answer's JSON: what changed, or the mistake.
        """


class TokenMinter(Protocol):
    """
    What C{POST /api/tokens} mints API tokens with.
    """

    @property
    def longest(self) -> int:
        """
        The most seconds a token may last.
        """

    def mint(self, user: User, camera: str, seconds: int) -> tuple[str, int]:
        """
        A token letting C{user} watch C{camera} for C{seconds}, and its
        expiry in Unix time.
        """


Reload: TypeAlias = "Callable[[], Deferred[Any] | None]"
"""Reloads the config file, firing with what it did (a L{Reloaded}); L{None}
for a server started without one."""
