# -*- test-case-name: tests.test_seed -*-
"""
Drivers written for the Flask design camserve grows from, run unchanged.

Such a driver is a class C{Camera(BaseCamera)} in a module C{camera_<name>}
whose C{frames()} is a static method; C{BaseCamera} comes from the design's
C{base_camera} module, whose constructor starts a capture thread of its own.
camserve never makes an instance: it iterates the class's C{frames()} in its
own capture thread, and when the working directory has no C{base_camera}
module it provides a stand-in so the driver's import works.

Such a driver keeps its source, and often more, on its class or its module:
C{set_video_source()} sets the class attribute C{video_source}, which
C{frames()} reads as C{Camera.video_source} (the module's own C{Camera}).
So that cameras made from one module are independent, each camera runs its
own copy of the driver's module (L{own_copy}).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from camserve._errors import ConfigError
from camserve.interfaces import ICamera

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from camserve.interfaces import CameraItem


class BaseCamera:
    """
    The stand-in for the Flask design's C{base_camera.BaseCamera}: the class
    attributes its drivers use, none of its threads.
    """

    video_source: Any = 0

    @staticmethod
    def frames() -> Iterator[CameraItem]:
        """
        Overridden by each driver.
        """
        raise NotImplementedError("a camera driver must define frames()")

    @classmethod
    def set_video_source(cls, source: Any) -> None:
        """
        Choose the device or file the driver opens.
        """
        cls.video_source = source


def provide_base_camera() -> None:
    """
    Make C{import base_camera} work for seed drivers, unless the working
    directory (or anything else on the path) has its own.
    """
    if "base_camera" in sys.modules or importlib.util.find_spec("base_camera"):
        return
    module = types.ModuleType("base_camera", "camserve's stand-in for base_camera")
    module.BaseCamera = BaseCamera  # type: ignore[attr-defined]
    sys.modules["base_camera"] = module


def is_seed_driver(factory: object) -> bool:
    """
    Whether C{factory} is a class whose C{frames} is a static or class
    method, as the Flask design's drivers are.
    """
    if not inspect.isclass(factory):
        return False
    frames = inspect.getattr_static(factory, "frames", None)
    return isinstance(frames, staticmethod | classmethod)


@implementer(ICamera)
class SeedCamera:
    """
    A Flask-design driver class as an L{ICamera}.
    """

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def frames(self) -> Iterator[CameraItem]:
        """
        The driver's own C{frames()}.
        """
        frames: Iterator[CameraItem] = self.driver.frames()
        return frames


def own_copy(name: str, driver: Any) -> Any:
    """
    The Flask-design driver class C{driver} from a fresh run of its module,
    for one camera alone: its class attributes (the source among them) and
    its module's globals are shared with no other camera.

    The fresh module has the imported one's name and file, but is not put in
    C{sys.modules}, whose entry other code (and L{find_driver}) goes on
    using, and which keeps the class as it was imported. Running the module
    once more is safe for the design's drivers: at import they only import
    libraries (which Python imports once, so those and C{base_camera} are
    shared, as always), read small files and define the class; they open
    their device in C{frames()}. Code that looks itself up in
    C{sys.modules} while it runs finds the imported module, not the copy.

    A class that a fresh run of a module file cannot give again (one
    defined in a function, or in a module not loaded from a file) is
    returned as it is, shared as it was before cameras had copies.

    @param name: the camera's driver name, for errors.
    @raise ConfigError: if the module fails when run again (it changed on
        disk since it was imported, say), or no longer has the class.
    """
    module = sys.modules.get(getattr(driver, "__module__", ""))
    spec = getattr(module, "__spec__", None)
    attribute = getattr(driver, "__qualname__", "")
    if (
        spec is None
        or not spec.has_location
        or spec.origin is None
        or getattr(module, attribute, None) is not driver
    ):
        return driver
    fresh = importlib.util.spec_from_file_location(spec.name, spec.origin)
    if fresh is None or fresh.loader is None:
        return driver
    file = Path(spec.origin).name
    copy = importlib.util.module_from_spec(fresh)
    try:
        fresh.loader.exec_module(copy)
    except Exception as error:  # noqa: BLE001 - any failure of the module is reported
        raise ConfigError(f"camera {name!r}: {file} failed: {error}") from None
    own = getattr(copy, attribute, None)
    if own is None:
        raise ConfigError(f"camera {name!r}: {file} has no {attribute} class")
    return own


def seed_camera(name: str, driver: Any, options: Mapping[str, Any]) -> SeedCamera:
    """
    An L{ICamera} for a Flask-design driver class, running its own copy of
    the driver (L{own_copy}); C{source} goes to the copy's
    C{set_video_source()} (a number names a device index).

    @raise ConfigError: for any other option, a C{source} the driver cannot
        take, or a module that fails when run again.
    """
    unknown = sorted(set(options) - {"source"})
    if unknown:
        raise ConfigError(
            f"camera {name!r} is a Flask-style driver and takes only the option"
            f" 'source', not {unknown[0]!r}"
        )
    driver = own_copy(name, driver)
    if "source" in options:
        setter = getattr(driver, "set_video_source", None)
        if setter is None:
            raise ConfigError(f"camera {name!r} has no set_video_source() for 'source'")
        source = options["source"]
        setter(int(source) if str(source).isdigit() else source)
    return SeedCamera(driver)
