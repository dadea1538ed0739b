"""
Every setting is declared once: the command line's options and help, the
environment's variables, the config file's keys and every default derive
from its declaration.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest
from twisted.internet.testing import MemoryReactorClock

from camserve import CameraHub, ConfigError, ServerConfig
from camserve.access._site import CamserveSite
from camserve.config._camera_table import CameraConfig, Timeouts
from camserve.config._file import parse_config
from camserve.config._server_table import ServerSettings
from camserve.config._settings import (
    SETTINGS,
    TIMEOUTS,
    Scope,
    Setting,
    default_of,
    settings_in,
)
from camserve.config._values import TextValue, TomlValue
from camserve.streams._multi_viewer import MultiViewer
from camserve.streams._viewer import StreamViewer
from camserve.tap import Options, build_service, config_from_environment

if TYPE_CHECKING:
    from collections.abc import Callable


def defaults(cls: type) -> dict[str, object]:
    """
    The defaults of an attrs class's fields, by name.
    """
    return {
        name: each.default
        for name, each in attrs.fields_dict(cls).items()
        if not isinstance(each.default, attrs.Factory)  # type: ignore[arg-type]  # attrs.Factory is a class at run time
    }


def declared(scope: Scope, *, drivers: bool = False) -> dict[str, object]:
    """
    The declared defaults of the settings of C{scope}, by name: of those
    passed to a driver only if C{drivers}.
    """
    return {
        setting.name: setting.default
        for setting in settings_in(scope)
        if setting.driver_option == drivers
    }


def test_the_server_table_is_the_server_settings() -> None:
    """
    The C{[server]} table's keys are the settings declared for it, with
    their declared defaults.
    """
    assert defaults(ServerSettings) == declared(Scope.SERVER)


def test_the_command_line_is_the_command_line_settings() -> None:
    """
    L{ServerConfig} holds each setting declared for the command line, with
    its declared default; the driver's go to its C{camera_options}, and
    C{--option} into them.
    """
    expected = declared(Scope.COMMAND_LINE)
    del expected["option"]
    assert defaults(ServerConfig) == expected
    assert "camera_options" in attrs.fields_dict(ServerConfig)
    assert ServerConfig.from_strings({"fps": "5", "option": "loop=false"}) == (
        ServerConfig(camera_options={"fps": 5.0, "loop": "false"})
    )


def test_a_camera_table_is_the_camera_settings() -> None:
    """
    A camera's own settings are those declared for a camera (and not for
    its driver), each the server's unless the camera sets it; the timeouts
    a camera runs with are these.
    """
    own = attrs.fields_dict(CameraConfig)
    for name in declared(Scope.CAMERA):
        assert own[name].default is None, name
    assert tuple(attrs.fields_dict(Timeouts)) == TIMEOUTS


def test_the_components_take_the_declared_defaults() -> None:
    """
    The camera layer, the streams and the site, which know nothing of the
    settings, default to the declared values.
    """
    hub = inspect.signature(CameraHub).parameters
    assert {
        "idle_timeout": hub["idle_timeout"].default,
        "start_timeout": hub["start_timeout"].default,
        "keepalive": hub["keepalive_interval"].default,
        "stall_timeout": hub["stall_timeout"].default,
    } == {name: default_of(name) for name in TIMEOUTS}
    for viewer in (StreamViewer, MultiViewer):
        stall = inspect.signature(viewer).parameters["stall_timeout"]
        assert stall.default == default_of("stall_timeout"), viewer
    site = inspect.signature(CamserveSite).parameters
    for name in ("header_timeout", "max_connections", "max_connections_per_client"):
        assert site[name].default == default_of(name), name


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_each_setting_is_readable_where_it_may_be_given(setting: Setting) -> None:
    """
    A setting of the command line reads text; one of the file reads TOML.
    """
    if Scope.COMMAND_LINE in setting.scope:
        assert isinstance(setting.value, TextValue)
    if setting.scope & (Scope.SERVER | Scope.CAMERA):
        assert isinstance(setting.value, TomlValue)


def test_help_shows_the_declared_defaults() -> None:
    """
    Each option's help ends with its declared default, if it has one.
    """
    helps = {each[0]: str(each[3]) for each in Options.optParameters}
    assert helps["idle-timeout"] == (
        "seconds without viewers before the camera stops [default: 10]"
    )
    assert helps["stall-timeout"].endswith("disconnected [default: 30]")
    assert helps["max-connections"].endswith("at once [default: 1000]")
    assert helps["camera"].endswith("[default: emulated]")
    assert helps["endpoint"].endswith("[default: tcp:8080]")
    assert helps["name"].endswith("[default: the driver's name]")
    assert helps["trusted-proxies"].endswith("[default: none]")
    assert helps["source"] == "driver source, e.g. a folder of JPEGs for emulated"


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (
            lambda: parse_config('[server]\nhosts = "cam"\n', "f"),
            (
                'f: [server] hosts must be a list of host names, e.g. ["camera.example"],'
                " not 'cam'"
            ),
        ),
        (
            lambda: ServerConfig.from_strings({"hosts": "cam:80"}),
            (
                "--hosts: 'cam:80' is not a host name "
                "(letters, digits, '-' and '.', without a port)"
            ),
        ),
        (
            lambda: ServerConfig.from_strings({"CAMSERVE_HOSTS": "a b"}, env=True),
            (
                "CAMSERVE_HOSTS: 'a b' is not a host name "
                "(letters, digits, '-' and '.', without a port)"
            ),
        ),
    ],
)
def test_a_setting_is_refused_in_the_words_of_its_kind(
    read: Callable[[], object], message: str
) -> None:
    """
    A setting's kind of value says what it takes, wherever it is given.
    """
    with pytest.raises(ConfigError) as raised:
        read()
    assert str(raised.value) == message


def test_the_command_line_names_host_names() -> None:
    """
    C{--hosts} and C{CAMSERVE_HOSTS}, declared for the command line as well
    as the file, name the hosts the one camera's site answers to.
    """
    options = Options()
    options.parseOptions(["--hosts", "Cams.Example, porch.lan"])
    assert options["serve"].hosts == ("cams.example", "porch.lan")
    environment = config_from_environment({"CAMSERVE_HOSTS": "cams.example"})
    assert isinstance(environment, ServerConfig)
    assert environment.server.hosts == ("cams.example",)
    memory = MemoryReactorClock()
    build_service(options["serve"], memory).startService()
    ((_, site, _, _),) = memory.tcpServers
    assert isinstance(site, CamserveSite)
    assert site.allowed_hosts == frozenset({"cams.example", "porch.lan"})


def test_the_readme_lists_every_option() -> None:
    """
    The README's table of settings has a row for each option, with its
    environment variable and its declared default.
    """
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {
        match["option"]: (match["env"], match["default"])
        for match in re.finditer(
            r"^\| `--(?P<option>[a-z-]+)` \| `(?P<env>\w+)` \| *`?(?P<default>[^|`]*)`? *\|",
            readme,
            re.MULTILINE,
        )
    }
    for setting in settings_in(Scope.COMMAND_LINE):
        env, default = rows.pop(setting.option)
        assert env == setting.env, setting.name
        if setting.default not in (None, ()) and not setting.driver_option:
            shown = setting.option_help.rpartition("[default: ")[2].rstrip("]")
            assert default.strip() == shown, setting.name
    assert not rows, "the README lists options camserve does not have"
