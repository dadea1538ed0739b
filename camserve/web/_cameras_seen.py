# -*- test-case-name: tests.test_server_app,tests.test_auth -*-
"""
The cameras of a service that one user sees, as a server app's routes look
them up: to the user, the others do not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camserve.web._requests import unknown_camera

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from twisted.web.iweb import IRequest

    from camserve.camera._hub import CameraHub
    from camserve.camera._service import CameraService
    from camserve.web._user import User


class CamerasSeen:
    """
    The cameras of a service that a user sees, from the service's cameras
    of the moment.
    """

    def __init__(
        self,
        service: CameraService,
        user: User | None,
        looking: Callable[[], None],
    ) -> None:
        """
        @param user: who logged in; L{None} (without logins) sees every
            camera.
        @param looking: called before each look-up of the hubs, so that the
            server app forgets what it made for cameras since removed.
        """
        self._service = service
        self._user = user
        self._looking = looking

    def by_name(self) -> Mapping[str, CameraHub]:
        """
        The hubs the user sees, by name, in the service's order.
        """
        hubs = self._service.hubs
        user = self._user
        if user is None or user.cameras is None:
            return hubs
        return {name: hub for name, hub in hubs.items() if user.sees(name)}

    def hubs(self) -> list[CameraHub]:
        """
        The hubs the user sees, in the service's order.
        """
        self._looking()
        return list(self.by_name().values())

    def hub(self, name: str) -> CameraHub | None:
        """
        The hub of camera C{name}, if the user sees it.
        """
        self._looking()
        return self.by_name().get(name)

    def unknown(self, request: IRequest) -> bytes:
        """
        Answer C{404} to a request of a camera the user does not see, naming
        those they do.
        """
        return unknown_camera(request, sorted(self.by_name()))

    def viewers(self, hub: CameraHub) -> int:
        """
        How many watch C{hub}'s camera: its own viewers, and those of its
        thumbnails.
        """
        thumbnails = self._service.thumbnail_hubs.get(hub.name)
        return hub.viewers + (0 if thumbnails is None else thumbnails.viewers)
