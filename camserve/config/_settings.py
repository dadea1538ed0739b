# -*- test-case-name: tests.test_config -*-
"""
camserve's settings: what they are, and reading them from options or the
environment with one-line errors.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from camserve._errors import ConfigError
from camserve._frozen import read_only
from camserve.access._proxies import parse_networks

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def bounded_number(
    kind: type[float | int], low: float, high: float = math.inf
) -> Callable[[str, str], Any]:
    def parse(name: str, raw: str) -> float | int:
        try:
            value = kind(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            allowed = (
                f"from {low:g} to {high:g}"
                if math.isfinite(high)
                else f"at least {low:g}"
            )
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name} must be {what} {allowed}, not {raw!r}")
        return value

    return parse


def positive_number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a number greater than 0, not {raw!r}")
    return value


def _text(name: str, raw: str) -> str:
    if not raw.strip():
        raise ConfigError(f"{name} must not be empty")
    return raw


def trusted_networks(name: str, raw: str) -> tuple[str, ...]:
    """
    The IP addresses and networks of a comma-separated C{raw} setting
    C{name}, as networks (C{127.0.0.1/32}).

    @raise ConfigError: naming the first that is neither.
    """
    entries = [each for each in raw.split(",") if each.strip()]
    try:
        return tuple(str(network) for network in parse_networks(entries))
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _driver_options(name: str, raw: str) -> dict[str, str]:
    options = {}
    for pair in raw.split(","):
        key, equals, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not (equals and key.isidentifier()):
            raise ConfigError(
                f"{name} must be KEY=VALUE pairs separated by commas "
                f"(e.g. loop=false,rotate=90), not {raw!r}"
            )
        options[key] = value
    return options


@frozen
class Setting:
    """
    One setting, as a command-line option and an environment variable.
    """

    option: str
    env: str
    parse: Callable[[str, str], Any]
    help: str
    driver_option: bool = False
    """Passed to the camera driver rather than used by the server."""

    @property
    def attribute(self) -> str:
        """
        The setting's name in L{ServerConfig} or in the driver's options.
        """
        return self.option.replace("-", "_")


SETTINGS = (
    Setting("camera", "CAMERA", _text, "camera driver name (see the README)"),
    Setting(
        "name",
        "CAMSERVE_NAME",
        _text,
        "camera name shown on pages [default: the driver's name]",
    ),
    Setting(
        "endpoint",
        "CAMSERVE_ENDPOINT",
        _text,
        "Twisted endpoint to listen on [default: tcp:8080]",
    ),
    Setting(
        "source",
        "CAMSERVE_SOURCE",
        _text,
        "driver source, e.g. a folder of JPEGs for emulated",
        driver_option=True,
    ),
    Setting(
        "fps", "CAMSERVE_FPS", positive_number, "frames per second", driver_option=True
    ),
    Setting(
        "width",
        "CAMSERVE_WIDTH",
        bounded_number(int, 16, 7680),
        "frame width in pixels",
        driver_option=True,
    ),
    Setting(
        "height",
        "CAMSERVE_HEIGHT",
        bounded_number(int, 16, 4320),
        "frame height in pixels",
        driver_option=True,
    ),
    Setting(
        "quality",
        "CAMSERVE_QUALITY",
        bounded_number(int, 1, 100),
        "JPEG quality, 1 to 100",
        driver_option=True,
    ),
    Setting(
        "option",
        "CAMSERVE_OPTIONS",
        _driver_options,
        "more driver options, as KEY=VALUE[,KEY=VALUE...] (see the README)",
    ),
    Setting(
        "idle-timeout",
        "CAMSERVE_IDLE_TIMEOUT",
        bounded_number(float, 0),
        "seconds without viewers before the camera stops [default: 10]",
    ),
    Setting(
        "start-timeout",
        "CAMSERVE_START_TIMEOUT",
        positive_number,
        "seconds a viewer waits for a first frame before a 503 [default: 10]",
    ),
    Setting(
        "keepalive",
        "CAMSERVE_KEEPALIVE",
        positive_number,
        "seconds without a new frame before viewers get the last one again [default: 2]",
    ),
    Setting(
        "stall-timeout",
        "CAMSERVE_STALL_TIMEOUT",
        positive_number,
        "seconds a viewer may read nothing before it is disconnected [default: 30]",
    ),
    Setting(
        "header-timeout",
        "CAMSERVE_HEADER_TIMEOUT",
        positive_number,
        "seconds a client has to send a whole request, body included [default: 10]",
    ),
    Setting(
        "max-connections",
        "CAMSERVE_MAX_CONNECTIONS",
        bounded_number(int, 1),
        "connections served at once [default: 1000]",
    ),
    Setting(
        "max-connections-per-client",
        "CAMSERVE_MAX_CONNECTIONS_PER_CLIENT",
        bounded_number(int, 1),
        "connections served at once from one client address [default: 50]",
    ),
    Setting(
        "trusted-proxies",
        "CAMSERVE_TRUSTED_PROXIES",
        trusted_networks,
        "reverse proxies whose X-Forwarded-For names the client, as IP addresses"
        " or networks separated by commas [default: none]",
    ),
)


@frozen
class ServerConfig:
    """
    Everything camserve's command line and tac file need to serve a camera.
    """

    camera: str = "emulated"
    name: str | None = None
    endpoint: str = "tcp:8080"
    camera_options: Mapping[str, Any] = field(factory=dict, converter=read_only)
    idle_timeout: float = 10.0
    start_timeout: float = 10.0
    keepalive: float = 2.0
    stall_timeout: float = 30.0
    header_timeout: float = 10.0
    max_connections: int = 1000
    max_connections_per_client: int = 50
    trusted_proxies: tuple[str, ...] = ()

    @property
    def camera_name(self) -> str:
        """
        The name shown for the camera: C{name}, else the driver's name.
        """
        return self.name or self.camera

    @classmethod
    def from_strings(
        cls, values: Mapping[str, str | None], *, env: bool = False
    ) -> ServerConfig:
        """
        Parse settings given as strings, keyed by option name (or, with
        C{env}, by environment variable); absent and L{None} values keep
        their defaults.

        @raise ConfigError: for the first value that cannot be used.
        """
        server: dict[str, Any] = {}
        camera_options: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = values.get(setting.env if env else setting.option)
            if raw is None:
                continue
            name = setting.env if env else f"--{setting.option}"
            value = setting.parse(name, raw)
            target = camera_options if setting.driver_option else server
            target[setting.attribute] = value
        more = server.pop("option", {})
        twice = sorted(set(more) & set(camera_options))
        if twice:
            raise ConfigError(
                f"driver option {twice[0]} is given twice: as its own setting "
                f"and in {'CAMSERVE_OPTIONS' if env else '--option'}"
            )
        return cls(camera_options={**more, **camera_options}, **server)
