# -*- test-case-name: tests.test_settings,tests.test_config,tests.test_config_file -*-
"""
camserve's settings, each declared once: its name, the kind of value it
takes, its default and its help, and where it may be given. The command
line's options, the environment's variables, the config file's C{[server]}
and C{[[cameras]]} keys and their defaults all derive from these.
"""

from __future__ import annotations

import enum
from typing import Any

from attrs import frozen

from camserve import _defaults
from camserve.config._values import (
    Choice,
    DriverOptions,
    Endpoints,
    HostNames,
    Networks,
    Number,
    Rectangles,
    Text,
    TextValue,
    TomlValue,
)
from camserve.recording._modes import RecordingMode


class Scope(enum.Flag):
    """
    Where a setting may be given.
    """

    COMMAND_LINE = enum.auto()
    """As an option (C{--idle-timeout}) and an environment variable
    (C{CAMSERVE_IDLE_TIMEOUT}), for the one camera they serve."""
    SERVER = enum.auto()
    """As a key of a config file's C{[server]} table."""
    CAMERA = enum.auto()
    """As a key of a C{[[cameras]]} table, for that camera; one that is
    also L{SERVER} is the server's value for the cameras that do not set
    their own."""
    DRIVER = enum.auto()
    """Passed to the camera's driver as one of its options."""


@frozen
class Setting:
    """
    One setting.

    @ivar name: its name in L{ServerConfig}'s and the config file's tables:
        C{idle_timeout}.
    @ivar value: the kind of value it takes.
    @ivar help: what it is, as the command line's help says it.
    @ivar default: its value where it is not given; L{None} for one its
        driver decides.
    @ivar scope: where it may be given.
    @ivar env_name: its environment variable where that is not derived
        from its name.
    @ivar default_shown: how the help shows a default of L{None}.
    """

    name: str
    value: TextValue | TomlValue
    help: str
    default: Any = None
    scope: Scope = Scope.COMMAND_LINE
    env_name: str | None = None
    default_shown: str | None = None

    @property
    def option(self) -> str:
        """
        Its command-line option, without the C{--}: C{idle-timeout}.
        """
        return self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """
        Its environment variable: C{CAMSERVE_IDLE_TIMEOUT}.
        """
        return self.env_name or f"CAMSERVE_{self.name.upper()}"

    @property
    def driver_option(self) -> bool:
        """
        Whether it is passed to the camera's driver rather than used by the
        server.
        """
        return Scope.DRIVER in self.scope

    @property
    def option_help(self) -> str:
        """
        The command line's help for it, with its default.
        """
        shown = self.default_shown
        if shown is None and self.default not in (None, ()):
            shown = f"{self.default:g}" if _is_number(self.default) else self.default
        return self.help if shown is None else f"{self.help} [default: {shown}]"

    def parse(self, name: str, raw: str) -> Any:
        """
        The setting's value given as text, as the option or the variable
        C{name}.

        @raise ConfigError: naming C{name}, for text it does not take.
        """
        if not isinstance(self.value, TextValue):
            raise TypeError(f"{self.name} is not given as text")
        return self.value.from_text(name, raw)

    def read(self, name: str, value: object) -> Any:
        """
        The setting's value given in a config file, as the key C{name}.

        @raise ConfigError: naming C{name}, for a value it does not take.
        """
        if not isinstance(self.value, TomlValue):
            raise TypeError(f"{self.name} is not given in a config file")
        return self.value.from_toml(name, value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_EVERYWHERE = Scope.COMMAND_LINE | Scope.SERVER
_TIMEOUT = Scope.COMMAND_LINE | Scope.SERVER | Scope.CAMERA
_OF_DRIVER = Scope.COMMAND_LINE | Scope.CAMERA | Scope.DRIVER
_OF_CAMERA = Scope.COMMAND_LINE | Scope.CAMERA
_SECONDS = Number(float, 0, above=True)

SETTINGS = (
    Setting(
        "camera",
        Text(),
        "camera driver name (see the README)",
        default="emulated",
        env_name="CAMERA",
    ),
    Setting(
        "name",
        Text(),
        "camera name shown on pages",
        default_shown="the driver's name",
    ),
    Setting(
        "endpoint",
        Text(),
        "Twisted endpoint to listen on",
        default=_defaults.ENDPOINT,
    ),
    Setting(
        "endpoints",
        Endpoints(),
        "Twisted endpoints to listen on, one listener each",
        default=(_defaults.ENDPOINT,),
        scope=Scope.SERVER,
    ),
    Setting(
        "source",
        Text(),
        "driver source, e.g. a folder of JPEGs for emulated",
        scope=_OF_DRIVER,
    ),
    Setting("fps", _SECONDS, "frames per second", scope=_OF_DRIVER),
    Setting("width", Number(int, 16, 7680), "frame width in pixels", scope=_OF_DRIVER),
    Setting(
        "height", Number(int, 16, 4320), "frame height in pixels", scope=_OF_DRIVER
    ),
    Setting("quality", Number(int, 1, 100), "JPEG quality, 1 to 100", scope=_OF_DRIVER),
    Setting(
        "option",
        DriverOptions(),
        "more driver options, as KEY=VALUE[,KEY=VALUE...] (see the README)",
        env_name="CAMSERVE_OPTIONS",
    ),
    Setting(
        "idle_timeout",
        Number(float, 0),
        "seconds without viewers before the camera stops",
        default=_defaults.IDLE_TIMEOUT,
        scope=_TIMEOUT,
    ),
    Setting(
        "start_timeout",
        _SECONDS,
        "seconds a viewer waits for a first frame before a 503",
        default=_defaults.START_TIMEOUT,
        scope=_TIMEOUT,
    ),
    Setting(
        "keepalive",
        _SECONDS,
        "seconds without a new frame before viewers get the last one again",
        default=_defaults.KEEPALIVE,
        scope=_TIMEOUT,
    ),
    Setting(
        "stall_timeout",
        _SECONDS,
        "seconds a viewer may read nothing before it is disconnected",
        default=_defaults.STALL_TIMEOUT,
        scope=_TIMEOUT,
    ),
    Setting(
        "group",
        Text(),
        "the group of cameras the grid shows the camera with",
        scope=Scope.CAMERA,
    ),
    Setting(
        "header_timeout",
        _SECONDS,
        "seconds a client has to send a whole request, body included",
        default=_defaults.HEADER_TIMEOUT,
        scope=_EVERYWHERE,
    ),
    Setting(
        "max_connections",
        Number(int, 1),
        "connections served at once",
        default=_defaults.MAX_CONNECTIONS,
        scope=_EVERYWHERE,
    ),
    Setting(
        "max_connections_per_client",
        Number(int, 1),
        "connections served at once from one client address",
        default=_defaults.MAX_CONNECTIONS_PER_CLIENT,
        scope=_EVERYWHERE,
    ),
    Setting(
        "hosts",
        HostNames(),
        "host names to answer to besides IP addresses and localhost, separated"
        " by commas (a request naming another is refused, as DNS rebinding's)",
        default=(),
        scope=_EVERYWHERE,
        default_shown="none",
    ),
    Setting(
        "trusted_proxies",
        Networks(),
        "reverse proxies whose X-Forwarded-For names the client, as IP addresses"
        " or networks separated by commas",
        default=(),
        scope=_EVERYWHERE,
        default_shown="none",
    ),
    Setting(
        "recordings_dir",
        Text(),
        "folder to record cameras in (see the README)",
        scope=_EVERYWHERE,
        default_shown="none",
    ),
    Setting(
        "min_free_bytes",
        Number(int, 0),
        "bytes to keep free on the recordings' disk: below it the oldest"
        " recordings of any camera are deleted, and recording waits",
        default=_defaults.MIN_FREE_BYTES,
        scope=_EVERYWHERE,
    ),
    Setting(
        "record",
        Choice(tuple(mode.value for mode in RecordingMode)),
        "when the camera records: off, continuous, on_demand, or motion",
        default=RecordingMode.OFF.value,
        scope=_OF_CAMERA,
    ),
    Setting(
        "segment_minutes",
        Number(float, 0, above=True),
        "minutes of recording in each segment file",
        default=_defaults.SEGMENT_MINUTES,
        scope=_OF_CAMERA,
    ),
    Setting(
        "max_bytes",
        Number(int, 1),
        "bytes the camera's recordings may hold, the oldest deleted first",
        scope=_OF_CAMERA,
        default_shown="no limit",
    ),
    Setting(
        "max_age",
        _SECONDS,
        "seconds the camera's recordings are kept",
        scope=_OF_CAMERA,
        default_shown="no limit",
    ),
    Setting(
        "motion_threshold",
        Number(float, 0, 1, above=True),
        "the activity (the fraction of the picture changed) that starts a"
        " motion recording",
        default=_defaults.MOTION_THRESHOLD,
        scope=_OF_CAMERA,
    ),
    Setting(
        "pre_roll",
        Number(float, 0, 60),
        "seconds recorded before motion starts",
        default=_defaults.PRE_ROLL,
        scope=_OF_CAMERA,
    ),
    Setting(
        "post_roll",
        Number(float, 0),
        "seconds recorded after motion ends",
        default=_defaults.POST_ROLL,
        scope=_OF_CAMERA,
    ),
    Setting(
        "motion_mask",
        Rectangles(),
        "parts of the picture the activity leaves out: left,top,width,height"
        " in fractions of the picture, rectangles separated by ;",
        default=(),
        scope=_OF_CAMERA,
        default_shown="none",
    ),
)
"""Every setting, in the order the command line's help lists them."""

_BY_NAME = {setting.name: setting for setting in SETTINGS}


def settings_in(scope: Scope) -> tuple[Setting, ...]:
    """
    The settings that may be given in C{scope}.
    """
    return tuple(setting for setting in SETTINGS if scope in setting.scope)


def default_of(name: str) -> Any:
    """
    The default of setting C{name}.
    """
    return _BY_NAME[name].default


TIMEOUTS = tuple(
    setting.name
    for setting in SETTINGS
    if (Scope.SERVER | Scope.CAMERA) in setting.scope
)
"""The names of the settings a camera may set for itself where the server
sets them for all: its four timeouts."""
