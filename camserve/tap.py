# -*- test-case-name: tests.test_tap -*-
"""
camserve from the command line: twistd's C{camserve} plugin, C{python -m
camserve} and C{camserve.tac} all build their service here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from twisted.application.service import IService, MultiService
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger
from twisted.python import usage

from camserve._commands import camera_problems, check_config_file, list_cameras
from camserve._errors import ConfigError
from camserve._listener import Listener
from camserve._listener import ListenError as ListenError  # noqa: PLC0414 - camserve.tap.ListenError stays importable
from camserve.access._certificates import CertificateReloader, reloadable
from camserve.access._login import LoginResource
from camserve.access._memory import keep_freed_memory
from camserve.access._proxies import TrustedProxies, parse_networks
from camserve.access._site import CamserveSite
from camserve.camera._service import CameraService
from camserve.cameras._registry import make_camera
from camserve.config._camera_table import CameraConfig
from camserve.config._file import (
    CheckedConfig,
    FileConfig,
    MadeCamera,
    ServerEndpoint,
    check_config,
    load_config,
)
from camserve.config._recording import (
    COMMAND_LINE_SETTING,
    FILE_SETTING,
    recordings_of,
)
from camserve.config._reload import ConfigReloader, serve_camera
from camserve.config._server_config import ServerConfig
from camserve.config._settings import Scope, settings_in
from camserve.recording._service import RecordingService
from camserve.web._server_app import service_resource

if TYPE_CHECKING:
    from collections.abc import Mapping


_OPTIONS = settings_in(Scope.COMMAND_LINE)
_CAMERA_OWN = settings_in(Scope.COMMAND_LINE | Scope.CAMERA)
"""The settings of the one camera of the command line, some its own (its
recording's) rather than the server's or its driver's."""


class Options(usage.Options):
    """
    camserve's command-line options; each can also be set in the
    environment (see the README).
    """

    synopsis = "[options]"
    longdesc = (
        "Serve cameras to web browsers as Motion JPEG: the cameras of a TOML "
        "config file (--config), or one camera from the options below. "
        "Without options it serves the emulated camera's test pattern on "
        "port 8080."
    )
    optFlags = [  # noqa: RUF012 - usage.Options reads a class attribute
        [
            "list-cameras",
            None,
            "list the camera drivers and whether each is usable here, then exit",
        ],
    ]
    optParameters = [  # noqa: RUF012 - usage.Options reads a class attribute
        ["config", None, None, "serve the cameras of this TOML file (see the README)"],
        ["check-config", None, None, "check this TOML config file, then exit"],
        *([setting.option, None, None, setting.option_help] for setting in _OPTIONS),
    ]

    def postOptions(self) -> None:
        """
        Parse the options into what to serve, or list the drivers, or check
        a config file.
        """
        if self["list-cameras"]:
            raise SystemExit(list_cameras())
        if self["check-config"]:
            raise SystemExit(check_config_file(self["check-config"], _reactor(None)))
        given = [setting.option for setting in _OPTIONS if self[setting.option]]
        # One line, not twistd's usage text above a UsageError's message.
        if self["config"]:
            if given:
                raise SystemExit(
                    f"camserve: --config and --{given[0]} cannot be used together:"
                    " set the camera's options in the file"
                )
            self["serve"] = self["config"]
            return
        try:
            self["serve"] = ServerConfig.from_strings(
                {setting.option: self[setting.option] for setting in _OPTIONS}
            )
        except ConfigError as error:
            raise SystemExit(f"camserve: {error}") from None


def config_from_environment(
    environ: Mapping[str, str] | None = None,
) -> ServerConfig | str:
    """
    What the environment asks to serve: the config file named by
    C{CAMSERVE_CONFIG}, or else one camera from C{CAMERA} and the
    C{CAMSERVE_*} variables.

    @raise ConfigError: for a value that cannot be used.
    """
    environ = os.environ if environ is None else environ
    path = environ.get("CAMSERVE_CONFIG")
    if path:
        given = [setting.env for setting in _OPTIONS if environ.get(setting.env)]
        if given:
            raise ConfigError(
                f"CAMSERVE_CONFIG and {given[0]} cannot be used together:"
                " set the camera's options in the file"
            )
        return path
    return ServerConfig.from_strings(environ, env=True)


def one_camera(config: ServerConfig, reactor: Any = None) -> CheckedConfig:
    """
    A one-camera config, as the command line and the environment give it,
    made ready to serve.

    @raise ConfigError: for a driver or endpoint that cannot be used.
    """
    reactor = _reactor(reactor)
    camera = make_camera(config.camera, config.camera_options, reactor)
    try:
        endpoint = serverFromString(reactor, config.endpoint)
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(
            f"endpoint {config.endpoint!r} is not a valid Twisted endpoint "
            f"description (e.g. tcp:8080, tcp:8080:interface=127.0.0.1): {error}"
        ) from None
    server = config.server
    own = {
        setting.name: getattr(config, setting.name)
        for setting in _CAMERA_OWN
        if Scope.SERVER not in setting.scope and not setting.driver_option
    }
    camera_config = CameraConfig(
        config.camera_name, config.camera, config.camera_options, **own
    )
    return CheckedConfig(
        FileConfig(server, (camera_config,), source="the command line"),
        (MadeCamera(camera_config, camera, camera_config.timeouts(server)),),
        (ServerEndpoint(config.endpoint, endpoint),),
    )


def build_service(serve: ServerConfig | str, reactor: Any = None) -> MultiService:
    """
    The whole camserve server: the cameras of the config file at C{serve},
    reloaded on C{SIGHUP}, or the one camera of a L{ServerConfig}, each
    recorded as its settings say; and an HTTP listener on each endpoint,
    whose TLS certificate, if it has one, is read again on C{SIGHUP} in
    either case. A file with C{[auth]} asks for a login
    on every path but its public ones, and its admins may reload it with
    C{POST /api/reload}; a reload applies changed users at once. The
    one-camera command line has no login.

    @raise ConfigError: for anything in the config that cannot be used.
    """
    reactor = _reactor(reactor)
    if isinstance(serve, str):
        checked = check_config(load_config(serve), reactor)
    else:
        checked = one_camera(serve, reactor)
    for problem in camera_problems(checked):
        # Served all the same: the file may yet appear, and a camera that
        # fails is reported on health and retried.
        _log.warn("camserve: {problem}", problem=problem)
    server = checked.config.server
    plan = recordings_of(
        server,
        (made.config for made in checked.cameras),
        FILE_SETTING if isinstance(serve, str) else COMMAND_LINE_SETTING,
    )
    top = MultiService()
    cameras = CameraService(reactor)
    cameras.setServiceParent(top)
    for made in checked.cameras:
        serve_camera(cameras, made)
    # Started after the cameras, whose capture threads then run for the
    # cameras recorded at once.
    recordings = RecordingService(cameras, reactor)
    recordings.configure(plan.root, plan.min_free_bytes, plan.cameras)
    recordings.setServiceParent(top)
    # The one-camera command line has no [auth]: it serves everyone.
    logins = (
        None
        if checked.accounts is None
        else LoginResource(
            cameras,
            reactor,
            checked.accounts,
            recordings_dir=plan.root,
            recorder=recordings,
        )
    )
    resource = (
        service_resource(
            cameras, reactor, recordings_dir=plan.root, recorder=recordings
        )
        if logins is None
        else logins
    )
    site = CamserveSite(
        resource,
        reactor,
        header_timeout=server.header_timeout,
        max_connections=server.max_connections,
        max_connections_per_client=server.max_connections_per_client,
        # With logins, POST /api/tokens takes a small JSON body; with
        # recordings, so do a playback's control and a recording's start,
        # and a config file may be reloaded to record.
        max_body_size=(
            0
            if checked.accounts is None
            and plan.root is None
            and not isinstance(serve, str)
            else JSON_BODY_SIZE
        ),
        allowed_hosts=server.hosts,
        trusted_proxies=TrustedProxies(parse_networks(server.trusted_proxies)),
    )
    certificates = []
    for each in checked.endpoints:
        certificate = reloadable(each.description, each.endpoint, reactor)
        if certificate is not None:
            certificates.append(certificate)
            # This process will serve TLS: see keep_freed_memory.
            keep_freed_memory()
        Listener(
            each.description, each.endpoint, site, login=checked.accounts is not None
        ).setServiceParent(top)
    if isinstance(serve, str):
        reloader = ConfigReloader(
            serve,
            checked,
            cameras,
            reactor,
            certificates=certificates,
            logins=logins,
            recorder=recordings,
        )
        reloader.setServiceParent(top)
        if logins is not None:
            logins.reload = reloader.reload
    elif certificates:
        CertificateReloader(certificates, reactor).setServiceParent(top)
    return top


_log = Logger()

JSON_BODY_SIZE = 4096
"""The largest request body taken where logins or recordings are
configured, in bytes: room for the JSON of C{POST /api/tokens}, of a
playback's control and of a recording's start or stop."""


def listen_now(top: MultiService) -> None:
    """
    Listen on every endpoint of C{top}, a service L{build_service} made,
    now rather than when it starts: a port that cannot be had ends the
    program now, with L{ListenError}.

    twistd makes its service before it daemonizes and starts it after, when
    the terminal is no longer there to say why camserve could not start.
    """
    for child in top:
        if isinstance(child, Listener):
            child.listen()


def _reactor(reactor: Any) -> Any:
    if reactor is None:
        from twisted.internet import reactor as global_reactor  # noqa: PLC0415

        return global_reactor
    return reactor


def makeService(options: Options) -> IService:
    """
    twistd's entry point: the service for the parsed C{options}, listening
    already (see L{listen_now}) unless twistd is to change its directory or
    its root before starting it.
    """
    try:
        top = build_service(options["serve"])
    except ConfigError as error:
        raise SystemExit(f"camserve: {error}") from None
    twistd = options.parent
    # Listening now would make a Unix socket's file relative to the
    # directory or root twistd is about to leave.
    if twistd is None or (
        twistd.get("chroot") is None and twistd.get("rundir", ".") == "."
    ):
        listen_now(top)
    return top
