# -*- test-case-name: tests.test_tap -*-
"""
camserve from the command line: twistd's C{camserve} plugin, C{python -m
camserve} and C{camserve.tac} all build their service here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, MultiService
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.python import usage
from twisted.web.server import Site

from ._config import SETTINGS, ConfigError, ServerConfig
from ._registry import describe_drivers, make_camera
from ._service import CameraService
from ._web import camera_resource

if TYPE_CHECKING:
    from collections.abc import Mapping


class Options(usage.Options):
    """
    camserve's command-line options; each can also be set in the
    environment (see the README).
    """

    synopsis = "[options]"
    longdesc = (
        "Serve a camera to web browsers as Motion JPEG. Without options it "
        "serves the emulated camera's test pattern on port 8080."
    )
    optFlags = [  # noqa: RUF012 - usage.Options reads a class attribute
        [
            "list-cameras",
            None,
            "list the camera drivers and whether each is usable here, then exit",
        ],
    ]
    optParameters = [[setting.option, None, None, setting.help] for setting in SETTINGS]  # noqa: RUF012 - usage.Options reads a class attribute

    def postOptions(self) -> None:
        """
        Parse the options into a L{ServerConfig}, or list the drivers.
        """
        if self["list-cameras"]:
            raise SystemExit(list_cameras())
        try:
            self["config"] = ServerConfig.from_strings(
                {setting.option: self[setting.option] for setting in SETTINGS}
            )
        except ConfigError as error:
            # One line, not twistd's usage text above a UsageError's message.
            raise SystemExit(f"camserve: {error}") from None


def list_cameras() -> int:
    """
    Print each camera driver with one line about it; the exit status.
    """
    for info in describe_drivers():
        state = "usable" if info.usable else "not usable"
        print(f"{info.name:<12} {state:<11} {info.description}")  # noqa: T201 - the command's output
    return 0


def config_from_environment(environ: Mapping[str, str] | None = None) -> ServerConfig:
    """
    A L{ServerConfig} from C{CAMERA} and the C{CAMSERVE_*} environment
    variables.

    @raise ConfigError: for a value that cannot be used.
    """
    return ServerConfig.from_strings(
        os.environ if environ is None else environ, env=True
    )


class _CommandLineListener(StreamServerEndpointService):
    """
    Listens for the command line: a port that cannot be had ends the
    program with one line rather than a traceback.
    """

    def __init__(self, description: str, endpoint: Any, factory: Site) -> None:
        super().__init__(endpoint, factory)
        self._description = description
        self._raiseSynchronously = True

    def privilegedStartService(self) -> None:
        """
        Listen, or exit with a one-line reason.
        """
        try:
            super().privilegedStartService()
        except CannotListenError as error:
            reason = error.socketError or error
            message = f"camserve: cannot listen on {self._description}: {reason}"
            raise SystemExit(message) from None


def build_service(config: ServerConfig, reactor: Any = None) -> MultiService:
    """
    The whole camserve server described by C{config}: its camera and an
    HTTP listener.

    @raise ConfigError: for a driver or endpoint that cannot be used.
    """
    if reactor is None:
        from twisted.internet import reactor as global_reactor  # noqa: PLC0415

        reactor = global_reactor
    camera = make_camera(config.camera, config.camera_options, reactor)
    try:
        endpoint = serverFromString(reactor, config.endpoint)
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(
            f"endpoint {config.endpoint!r} is not a valid Twisted endpoint "
            f"description (e.g. tcp:8080, tcp:8080:interface=127.0.0.1): {error}"
        ) from None

    top = MultiService()
    cameras = CameraService(reactor)
    cameras.setServiceParent(top)
    hub = cameras.add_driver(
        config.camera_name,
        camera,
        driver=config.camera,
        idle_timeout=config.idle_timeout,
        start_timeout=config.start_timeout,
        keepalive_interval=config.keepalive,
    )
    site = Site(camera_resource(hub, reactor, stall_timeout=config.stall_timeout))
    _CommandLineListener(config.endpoint, endpoint, site).setServiceParent(top)
    return top


def makeService(options: Options) -> IService:
    """
    twistd's entry point: the service for the parsed C{options}.
    """
    try:
        return build_service(options["config"])
    except ConfigError as error:
        raise SystemExit(f"camserve: {error}") from None
