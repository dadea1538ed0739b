# -*- test-case-name: tests.test_tap -*-
"""
The command line's commands that serve nothing: listing the drivers, and
checking a config file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from camserve._errors import ConfigError
from camserve.cameras._registry import describe_drivers
from camserve.config._file import check_config, load_config
from camserve.interfaces import ICheckable

if TYPE_CHECKING:
    from camserve.config._file import CheckedConfig


def list_cameras() -> int:
    """
    Print each camera driver with one line about it; the exit status.
    """
    for info in describe_drivers():
        state = "usable" if info.usable else "not usable"
        print(f"{info.name:<12} {state:<11} {info.description}")  # noqa: T201 - the command's output
    return 0


def check_config_file(path: str, reactor: Any) -> int:
    """
    Check the config file at C{path} as serving it would, and what its
    drivers can tell without opening a device (see L{camera_problems});
    print one line saying what it serves or what is wrong, and return the
    exit status.

    @param reactor: what endpoints are made for (nothing listens).
    """
    try:
        checked = check_config(load_config(path), reactor)
    except ConfigError as error:
        print(f"camserve: {error}")  # noqa: T201 - the command's output
        return 1
    problems = camera_problems(checked)
    if problems:
        print(f"camserve: {path}: {problems[0]}")  # noqa: T201 - the command's output
        return 1
    cameras = ", ".join(made.config.name for made in checked.cameras)
    endpoints = ", ".join(each.description for each in checked.endpoints)
    print(f"{path}: OK: cameras {cameras}; listening on {endpoints}")  # noqa: T201 - the command's output
    return 0


def camera_problems(checked: CheckedConfig) -> list[str]:
    """
    What the drivers of C{checked}'s cameras can tell would stop them
    without opening a device (see L{ICheckable}), each naming its camera.
    """
    return [
        f"camera {made.config.name!r}: {problem}"
        for made in checked.cameras
        if ICheckable.providedBy(made.camera)
        for problem in made.camera.problems()
    ]
