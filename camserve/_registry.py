# -*- test-case-name: tests.test_registry -*-
"""
Finding a camera driver by name, and making a camera from options.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from attrs import frozen

from ._config import ConfigError
from ._seed import is_seed_driver, provide_base_camera, seed_camera
from .interfaces import ICamera

ENTRY_POINT_GROUP = "camserve.cameras"

_BUILT_IN = {
    "emulated": "camserve.cameras.emulated:EmulatedCamera",
}

CameraFactory = Callable[..., ICamera]


def driver_names() -> list[str]:
    """
    The names of the built-in and installed drivers, sorted.
    """
    names = set(_BUILT_IN)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


@frozen
class DriverInfo:
    """
    What C{--list-cameras} says of one driver.

    @ivar usable: whether it loads here (its libraries are installed).
    @ivar description: one line: what it is, or why it does not load.
    """

    name: str
    usable: bool
    description: str


def describe_drivers() -> list[DriverInfo]:
    """
    Every driver camserve can find from the working directory: built-in,
    installed, and C{camera_<name>.py} modules in the folder, by name.
    """
    names = set(driver_names())
    names.update(
        path.stem.removeprefix("camera_") for path in Path.cwd().glob("camera_*.py")
    )
    infos = []
    for name in sorted(names):
        try:
            factory = find_driver(name)
        except ConfigError as error:
            infos.append(DriverInfo(name, usable=False, description=str(error)))
            continue
        description = getattr(factory, "description", None)
        if not isinstance(description, str):
            doc = (getattr(factory, "__doc__", None) or "").strip()
            description = doc.splitlines()[0] if doc else "no description"
        infos.append(DriverInfo(name, usable=True, description=description))
    return infos


def find_driver(name: str) -> CameraFactory:
    """
    The camera factory registered as C{name}: a built-in driver, then one from
    the C{camserve.cameras} entry-point group, then (the seed's convention) the
    C{Camera} class of a module C{camera_<name>} in the working directory.

    @raise ConfigError: if there is no such driver, or it fails to import.
    """
    if name in _BUILT_IN:
        return _load(name, _BUILT_IN[name])
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return _load(name, ep.value)
    if name.isidentifier():
        module_name = f"camera_{name}"
        cwd = str(Path.cwd())
        if cwd not in sys.path:
            sys.path.append(cwd)
        provide_base_camera()
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise ConfigError(
                    f"camera {name!r}: {module_name}.py needs {error.name!r}, "
                    "which is not installed"
                ) from None
        except Exception as error:  # noqa: BLE001 - any import error is reported
            raise ConfigError(
                f"camera {name!r}: {module_name}.py failed: {error}"
            ) from None
        else:
            factory = getattr(module, "Camera", None)
            if factory is None:
                raise ConfigError(
                    f"camera {name!r}: {module_name}.py has no Camera class"
                )
            return factory  # type: ignore[no-any-return]
    raise ConfigError(
        f"unknown camera {name!r}; available: {', '.join(driver_names())}, "
        f"or a camera_{name if name.isidentifier() else 'NAME'}.py module "
        "in the working directory"
    )


def _load(name: str, reference: str) -> CameraFactory:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)  # type: ignore[no-any-return]
    except Exception as error:  # noqa: BLE001 - any import error is reported
        raise ConfigError(f"camera {name!r} cannot be loaded: {error}") from None


def make_camera(name: str, options: Mapping[str, Any]) -> ICamera:
    """
    A camera from the driver registered as C{name}, given C{options}.

    @raise ConfigError: naming the driver and what is wrong: an unknown
        driver, an option it does not take, or a value it refuses.
    """
    factory = find_driver(name)
    if is_seed_driver(factory):
        return seed_camera(name, factory, options)
    accepted = _keyword_options(factory)
    if accepted is not None:
        unknown = sorted(set(options) - accepted)
        if unknown:
            takes = ", ".join(sorted(accepted)) or "no options"
            raise ConfigError(
                f"camera {name!r} does not take option {unknown[0]!r}; it takes: {takes}"
            )
    try:
        return factory(**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"camera {name!r}: {error}") from None


def _keyword_options(factory: CameraFactory) -> set[str] | None:
    """
    The keyword options C{factory} takes, or L{None} if it takes any.
    """
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    names = set()
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if parameter.kind in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            names.add(parameter.name)
    return names
