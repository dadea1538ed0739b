# -*- test-case-name: tests.test_registry -*-
"""
Finding a camera driver by name, and making a camera from options.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from attrs import frozen

from camserve._errors import ConfigError
from camserve.cameras._seed import is_seed_driver, provide_base_camera, seed_camera
from camserve.interfaces import ICamera, IFrameSource

ENTRY_POINT_GROUP = "camserve.cameras"

_BUILT_IN = {
    "emulated": "camserve.cameras.emulated:EmulatedCamera",
    "opencv": "camserve.cameras.opencv:OpenCVCamera",
    "v4l2": "camserve.cameras.v4l2:V4L2Camera",
    "mjpeg": "camserve.cameras.mjpeg:MJPEGRelay",
    "pi": "camserve.cameras.pi:PiCamera",
    "picamera2": "camserve.cameras.picamera2:Picamera2Camera",
}

Driver = ICamera | IFrameSource
"""
What a driver makes: a blocking camera, or an asynchronous frame source.
"""

CameraFactory = Callable[..., Driver]


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
        missing = missing_libraries(factory)
        if missing:
            infos.append(DriverInfo(name, usable=False, description=f"needs {missing}"))
            continue
        description = getattr(factory, "description", None)
        if not isinstance(description, str):
            doc = (getattr(factory, "__doc__", None) or "").strip()
            description = doc.splitlines()[0] if doc else "no description"
        infos.append(DriverInfo(name, usable=True, description=description))
    return infos


def missing_libraries(factory: CameraFactory) -> str:
    """
    What a driver needs that is not installed, as a phrase ("picamera, which
    is not installed: pip install 'camserve[pi]'"); empty if nothing.

    A driver declares what it imports lazily in a C{requires} class
    attribute: a mapping from each top-level module to how to install it.
    """
    requires = getattr(factory, "requires", None)
    if not isinstance(requires, Mapping):
        return ""
    for module, install in requires.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{module}, which is not installed: {install}"
    return ""


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
        # The module imported here, and kept in sys.modules, is shared;
        # seed_camera gives each camera a copy of its own.
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


def make_camera(name: str, options: Mapping[str, Any], reactor: Any = None) -> Driver:
    """
    A camera from the driver registered as C{name}, given C{options}: an
    L{ICamera}, or for an asynchronous driver (a class implementing
    L{IFrameSource}) a frame source, which is also given C{reactor}.

    @param reactor: what an asynchronous driver runs on; the global reactor
        by default.

    @raise ConfigError: naming the driver and what is wrong: an unknown
        driver, an option it does not take, or a value it refuses.
    """
    factory = find_driver(name)
    if is_seed_driver(factory):
        return seed_camera(name, factory, options)
    asynchronous = isinstance(factory, type) and IFrameSource.implementedBy(factory)
    missing = missing_libraries(factory)
    if missing:
        raise ConfigError(f"camera {name!r} needs {missing}")
    accepted = _keyword_options(factory)
    if accepted is not None and asynchronous:
        accepted.discard("reactor")
    if accepted is not None:
        unknown = sorted(set(options) - accepted)
        if unknown:
            takes = ", ".join(sorted(accepted)) or "no options"
            raise ConfigError(
                f"camera {name!r} does not take option {unknown[0]!r}; it takes: {takes}"
            )
    declared = declared_types(factory)
    arguments = {
        key: _from_string(name, key, value, declared.get(key, set()))
        if isinstance(value, str)
        else value
        for key, value in options.items()
    }
    if asynchronous:
        if reactor is None:
            from twisted.internet import reactor as global_reactor  # noqa: PLC0415

            reactor = global_reactor
        arguments["reactor"] = reactor
    try:
        return factory(**arguments)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"camera {name!r}: {error}") from None


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _from_string(name: str, key: str, raw: str, wanted: set[type]) -> Any:
    """
    An option given as text (on the command line or in the environment)
    converted to the type the driver's constructor declares for it: C{int},
    C{float} or C{bool}; other declared types get the text as it is.

    @param wanted: the types declared for the option.
    @raise ConfigError: for text that is not of the declared type.
    """
    text = raw.strip()
    if bool in wanted:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        if str not in wanted:
            raise ConfigError(
                f"camera {name!r}: option {key} must be true or false, not {raw!r}"
            )
    for kind, what in ((int, "a whole number"), (float, "a number")):
        if kind in wanted:
            try:
                return kind(text)
            except ValueError:
                if str not in wanted and not (kind is int and float in wanted):
                    raise ConfigError(
                        f"camera {name!r}: option {key} must be {what}, not {raw!r}"
                    ) from None
    return raw


def declared_types(factory: CameraFactory) -> dict[str, set[type]]:
    """
    The types each constructor parameter of C{factory} is declared to take,
    with C{X | None} read as C{X}; parameters without usable annotations are
    left out.
    """
    try:
        parameters = inspect.signature(factory, eval_str=True).parameters.values()
    except Exception:  # noqa: BLE001 - unresolvable annotations: take text as it is
        return {}
    declared = {}
    for parameter in parameters:
        hint = parameter.annotation
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        members = typing.get_args(hint) if union else (hint,)
        declared[parameter.name] = {
            member for member in members if isinstance(member, type)
        }
    return declared


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
