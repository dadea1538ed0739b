"""
Tests for L{camserve.config._settings}: settings from options and the environment.
"""

from __future__ import annotations

import pytest

from camserve import ConfigError, ServerConfig
from camserve.config._settings import Scope, settings_in
from camserve.tap import Options, config_from_environment


def test_defaults() -> None:
    """
    With nothing set camserve serves the emulated camera on port 8080 with
    the documented timeouts.
    """
    config = ServerConfig.from_strings({})
    assert config == ServerConfig()
    assert (config.camera, config.endpoint, config.camera_name) == (
        "emulated",
        "tcp:8080",
        "emulated",
    )
    assert (config.idle_timeout, config.start_timeout) == (10.0, 10.0)
    assert (config.keepalive, config.stall_timeout) == (2.0, 30.0)
    assert dict(config.camera_options) == {}


def test_options_parse_into_server_and_camera_settings() -> None:
    """
    Driver settings go to the camera's options with their types; the rest
    configure the server.
    """
    options = Options()
    options.parseOptions(
        [
            "--camera=emulated",
            "--name=porch",
            "--endpoint=tcp:9000",
            "--source=frames",
            "--fps=12.5",
            "--width=320",
            "--height=240",
            "--quality=70",
            "--idle-timeout=3",
            "--start-timeout=4",
            "--keepalive=5",
            "--stall-timeout=6",
        ]
    )
    config = options["serve"]
    assert config.camera_name == "porch"
    assert config.endpoint == "tcp:9000"
    assert dict(config.camera_options) == {
        "source": "frames",
        "fps": 12.5,
        "width": 320,
        "height": 240,
        "quality": 70,
    }
    assert (config.idle_timeout, config.start_timeout) == (3.0, 4.0)
    assert (config.keepalive, config.stall_timeout) == (5.0, 6.0)


def test_environment() -> None:
    """
    The tac's environment variables set the same settings.
    """
    config = config_from_environment(
        {
            "CAMERA": "emulated",
            "CAMSERVE_ENDPOINT": "tcp:0",
            "CAMSERVE_FPS": "5",
            "CAMSERVE_IDLE_TIMEOUT": "0",
            "UNRELATED": "x",
        }
    )
    assert isinstance(config, ServerConfig)
    assert config.endpoint == "tcp:0"
    assert dict(config.camera_options) == {"fps": 5.0}
    assert config.idle_timeout == 0.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"fps": "abc"}, "--fps must be a number greater than 0, not 'abc'"),
        ({"fps": "0"}, "--fps must be a number greater than 0, not '0'"),
        ({"fps": "inf"}, "--fps must be a number greater than 0, not 'inf'"),
        ({"width": "1.5"}, "--width must be a whole number from 16 to 7680, not '1.5'"),
        ({"height": "9"}, "--height must be a whole number from 16 to 4320, not '9'"),
        (
            {"quality": "500"},
            "--quality must be a whole number from 1 to 100, not '500'",
        ),
        (
            {"idle-timeout": "-1"},
            "--idle-timeout must be a number at least 0, not '-1'",
        ),
        (
            {"keepalive": "nan"},
            "--keepalive must be a number greater than 0, not 'nan'",
        ),
        ({"camera": " "}, "--camera must not be empty"),
    ],
)
def test_bad_values_name_the_setting_and_what_is_allowed(
    values: dict[str, str], message: str
) -> None:
    """
    A value camserve cannot use is refused with one line naming the setting,
    the value and what is allowed.
    """
    with pytest.raises(ConfigError) as caught:
        ServerConfig.from_strings(values)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("option", "lowest", "highest", "allowed"),
    [
        ("width", 16, 7680, "a whole number from 16 to 7680"),
        ("height", 16, 4320, "a whole number from 16 to 4320"),
        ("quality", 1, 100, "a whole number from 1 to 100"),
    ],
)
def test_ranges_include_their_limits_and_nothing_past_them(
    option: str, lowest: int, highest: int, allowed: str
) -> None:
    """
    A ranged driver setting takes the values at both of its limits, and
    refuses the whole numbers just past them.
    """
    for value in (lowest, highest):
        config = ServerConfig.from_strings({option: str(value)})
        assert dict(config.camera_options) == {option: value}
    for value in (lowest - 1, highest + 1):
        with pytest.raises(ConfigError) as caught:
            ServerConfig.from_strings({option: str(value)})
        assert str(caught.value) == f"--{option} must be {allowed}, not '{value}'"


def test_idle_timeout_may_be_zero_but_not_less() -> None:
    """
    An idle timeout of 0 (stop as soon as the last viewer leaves) is taken;
    anything below it is refused.
    """
    assert ServerConfig.from_strings({"idle-timeout": "0"}).idle_timeout == 0.0
    with pytest.raises(
        ConfigError,
        match=r"^--idle-timeout must be a number at least 0, not '-0\.001'$",
    ):
        ServerConfig.from_strings({"idle-timeout": "-0.001"})


def test_connection_settings() -> None:
    """
    The header timeout and the connection limits are settings of the one
    camera's command line and environment, whole numbers from 1 for the
    limits.
    """
    config = ServerConfig.from_strings(
        {
            "header-timeout": "2.5",
            "max-connections": "10",
            "max-connections-per-client": "3",
        }
    )
    assert (
        config.header_timeout,
        config.max_connections,
        config.max_connections_per_client,
    ) == (2.5, 10, 3)
    environment = config_from_environment({"CAMSERVE_MAX_CONNECTIONS_PER_CLIENT": "9"})
    assert isinstance(environment, ServerConfig)
    assert environment.max_connections_per_client == 9
    with pytest.raises(ConfigError) as caught:
        ServerConfig.from_strings({"max-connections-per-client": "0"})
    assert str(caught.value) == (
        "--max-connections-per-client must be a whole number at least 1, not '0'"
    )


def test_bad_environment_names_the_variable() -> None:
    """
    Errors in the environment name the environment variable.
    """
    with pytest.raises(ConfigError, match=r"^CAMSERVE_FPS must be a number"):
        config_from_environment({"CAMSERVE_FPS": "fast"})


def test_bad_option_exits_with_one_line() -> None:
    """
    The command line turns a bad value into a one-line exit message rather
    than twistd's usage text.
    """
    with pytest.raises(SystemExit) as caught:
        Options().parseOptions(["--quality=0"])
    assert caught.value.code == (
        "camserve: --quality must be a whole number from 1 to 100, not '0'"
    )


def test_every_setting_is_an_option_and_a_variable() -> None:
    """
    Each setting has a documented option and environment variable.
    """
    help_text = str(Options())
    for setting in settings_in(Scope.COMMAND_LINE):
        assert f"--{setting.option}" in help_text
        assert setting.env == "CAMERA" or setting.env.startswith("CAMSERVE_")


def test_more_driver_options() -> None:
    """
    C{--option} and C{CAMSERVE_OPTIONS} give any driver option as text, for
    the registry to convert to the driver's declared types.
    """
    options = Options()
    options.parseOptions(["--option", "loop=false, rotate=90,user-name=a=b", "--fps=5"])
    config = options["serve"]
    assert dict(config.camera_options) == {
        "loop": "false",
        "rotate": "90",
        "user_name": "a=b",
        "fps": 5.0,
    }
    environment = config_from_environment({"CAMSERVE_OPTIONS": "flip=both"})
    assert isinstance(environment, ServerConfig)
    assert dict(environment.camera_options) == {"flip": "both"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"option": "loop"},
            (
                "--option must be KEY=VALUE pairs separated by commas "
                "(e.g. loop=false,rotate=90), not 'loop'"
            ),
        ),
        (
            {"option": "=1"},
            (
                "--option must be KEY=VALUE pairs separated by commas "
                "(e.g. loop=false,rotate=90), not '=1'"
            ),
        ),
        (
            {"option": "fps=3", "fps": "4"},
            "driver option fps is given twice: as its own setting and in --option",
        ),
    ],
)
def test_bad_driver_options(values: dict[str, str], message: str) -> None:
    """
    Malformed or doubled driver options are refused in one line.
    """
    with pytest.raises(ConfigError) as caught:
        ServerConfig.from_strings(values)
    assert str(caught.value) == message
