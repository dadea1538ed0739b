# -*- test-case-name: tests.test_auth,tests.test_login -*-
"""
Who a request is served for, as the web app's routes see them: a user's
role and the cameras they see.
"""

from __future__ import annotations

from attrs import frozen

_ROLE_RANK = {"viewer": 0, "admin": 1}


@frozen
class User:
    """
    Who logged in: the avatar routes are served for, so that they never
    look the user up again.

    @ivar role: C{"viewer"} or C{"admin"}.
    @ivar cameras: the names of the only cameras the user sees; L{None} for
        every camera.
    """

    name: str
    role: str
    cameras: frozenset[str] | None = None

    def sees(self, camera: str) -> bool:
        """
        Whether the user may see camera C{camera}; the others are, for them,
        cameras that do not exist.
        """
        return self.cameras is None or camera in self.cameras

    def may(self, role: str) -> bool:
        """
        Whether the user's role allows what C{role} may do: an admin may do
        everything a viewer may. A route for C{role} answers C{403} to a
        user who may not.
        """
        return _ROLE_RANK[self.role] >= _ROLE_RANK[role]
