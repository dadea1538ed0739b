# -*- test-case-name: tests.test_tap -*-
"""
camserve's listeners: one on each endpoint, saying where it is, and ending
the program in one line when its port cannot be had.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import Service
from twisted.internet.error import CannotListenError
from twisted.logger import Logger

from camserve.access._exposure import exposure_warning

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
    from twisted.web.server import Site


class ListenError(SystemExit, Exception):
    """
    The end of the program: an endpoint cannot be listened on. Its code is
    the one line that says so.

    A L{SystemExit}, so that the program ends with that line rather than a
    traceback; and an L{Exception} too, because twistd, once it has
    daemonized, tells the process waiting on the terminal of an
    L{Exception} only (told nothing, that process waits for ever), and only
    then removes its pid file.
    """


class Listener(StreamServerEndpointService):
    """
    Twisted's service of a listening endpoint, which says where it listens
    and, for a site without login that other machines can reach, that
    anyone there can watch; a port that cannot be had ends the program with
    one line rather than a traceback.

    @ivar description: the endpoint's description, as configured.
    @ivar port: the port listened on, once listening; L{None} before, and
        once stopped.
    """

    _log = Logger()

    # As twisted.application.strports.service has it: a port that cannot be
    # had is raised to whoever listens (listen_now, or twistd starting the
    # service), which ends the program with it, rather than logged as the
    # program goes on serving nothing there.
    _raiseSynchronously = True

    def __init__(
        self,
        description: str,
        endpoint: IStreamServerEndpoint,
        factory: Site,
        *,
        login: bool = False,
    ) -> None:
        """
        @param description: the endpoint's description, for messages.
        @param endpoint: where to listen.
        @param factory: the site served there.
        @param login: whether the site asks for a login; without one, a
            listener other machines can reach is warned about at start.
        """
        super().__init__(endpoint, factory)
        self.description = description
        self.port: IListeningPort | None = None
        self._login = login

    def privilegedStartService(self) -> None:
        """
        Listen (before twistd gives up root, for ports below 1024), unless
        L{listen_now<camserve.tap.listen_now>} did; or exit with a one-line
        reason.
        """
        self.listen()

    def stopService(self) -> Any:
        """
        Stop listening; what fires once the port is closed.
        """
        self.port = None
        if self._waitingForPort is None:
            # Never started (its parent failed to start before it): there
            # is no port to close.
            return Service.stopService(self)
        return super().stopService()

    def listen(self) -> None:
        """
        Listen, unless listening (or trying to) already: now, for
        L{listen_now<camserve.tap.listen_now>}, or as the service starts.

        @raise ListenError: for a port that cannot be had.
        """
        if self._waitingForPort is not None:
            return
        try:
            super().privilegedStartService()
        except CannotListenError as error:
            reason = error.socketError or error
            message = f"camserve: cannot listen on {self.description}: {reason}"
            raise ListenError(message) from None
        # Set by the listening just done: the check above made type checkers
        # take it for None.
        waiting = cast("Deferred[IListeningPort | None]", self._waitingForPort)
        waiting.addCallback(self._listening)

    def _listening(self, port: IListeningPort | None) -> IListeningPort | None:
        """
        Say where C{port} listens, and pass it on for L{stopService} to
        close; L{None} for a listen that failed later, or was cancelled,
        which Twisted's service has logged.
        """
        if port is None:
            return None
        self.port = port
        self._log.info(
            "camserve is at {url} (listening on {description})",
            url=_address(self.description, port),
            description=self.description,
        )
        warning = (
            None if self._login else exposure_warning(self.description, port.getHost())
        )
        if warning is not None:
            # As a field, not the format: a description may hold braces.
            self._log.warn("{warning}", warning=warning)
        return port


def _address(description: str, port: IListeningPort) -> str:
    """
    Where a browser on this machine finds a listening port.
    """
    host = port.getHost()
    number = getattr(host, "port", None)
    if number is None:
        # A Unix socket's path, which Twisted keeps as bytes.
        path = getattr(host, "name", None)
        return f"the socket {description if path is None else os.fsdecode(path)}"
    name = getattr(host, "host", "localhost")
    if name in ("0.0.0.0", "::", ""):
        name = "localhost"
    elif ":" in name:
        name = f"[{name}]"
    scheme = "https" if description.startswith(("ssl:", "tls:")) else "http"
    return f"{scheme}://{name}:{number}/"
