# -*- test-case-name: tests.test_seed -*-
"""
Drivers written for the Flask design camserve grows from, run unchanged.

Such a driver is a class C{Camera(BaseCamera)} in a module C{camera_<name>}
whose C{frames()} is a static method; C{BaseCamera} comes from the design's
C{base_camera} module, whose constructor starts a capture thread of its own.
camserve never makes an instance: it iterates the class's C{frames()} in its
own capture thread, and when the working directory has no C{base_camera}
module it provides a stand-in so the driver's import works.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from ._config import ConfigError
from .interfaces import ICamera

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from .interfaces import CameraItem


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


def seed_camera(name: str, driver: Any, options: Mapping[str, Any]) -> SeedCamera:
    """
    An L{ICamera} for a Flask-design driver class; C{source} goes to its
    C{set_video_source()} (a number names a device index).

    @raise ConfigError: for any other option, or a C{source} the driver
        cannot take.
    """
    unknown = sorted(set(options) - {"source"})
    if unknown:
        raise ConfigError(
            f"camera {name!r} is a Flask-style driver and takes only the option"
            f" 'source', not {unknown[0]!r}"
        )
    if "source" in options:
        setter = getattr(driver, "set_video_source", None)
        if setter is None:
            raise ConfigError(f"camera {name!r} has no set_video_source() for 'source'")
        source = options["source"]
        setter(int(source) if str(source).isdigit() else source)
    return SeedCamera(driver)
