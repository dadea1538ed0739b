"""
Tests for L{camserve.cameras._registry}: finding drivers and making cameras.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from support import blocking_camera
from twisted.internet.task import Clock
from zope.interface import implementer

from camserve import (
    ConfigError,
    EmulatedCamera,
    IFrameSource,
    driver_names,
    find_driver,
    make_camera,
)
from camserve.cameras._registry import _BUILT_IN, describe_drivers

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """
    Run in an empty folder, and forget camera_* modules imported from it.
    """
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for name in [name for name in sys.modules if name.startswith("camera_")]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_built_in_emulated() -> None:
    """
    The emulated camera is built in, and also registered as an entry point.
    """
    assert "emulated" in driver_names()
    assert find_driver("emulated") is EmulatedCamera


def test_make_camera_passes_options() -> None:
    """
    Options reach the driver's constructor.
    """
    camera = make_camera("emulated", {"fps": 5.0, "width": 320})
    assert isinstance(camera, EmulatedCamera)
    assert (camera.fps, camera.width, camera.height) == (5.0, 320, 480)


def test_unknown_driver_lists_the_available_ones(in_folder: Path) -> None:
    """
    An unknown name is refused with the list of drivers.
    """
    with pytest.raises(ConfigError) as caught:
        find_driver("nosuch")
    assert str(caught.value) == (
        f"unknown camera 'nosuch'; available: {', '.join(driver_names())}, "
        "or a camera_nosuch.py module in the working directory"
    )
    assert {"emulated", "mjpeg"} <= set(driver_names())


def test_unknown_option_lists_the_accepted_ones() -> None:
    """
    An option the driver does not take is refused with the ones it takes.
    """
    with pytest.raises(ConfigError) as caught:
        make_camera("emulated", {"zoom": 2})
    assert str(caught.value) == (
        "camera 'emulated' does not take option 'zoom'; "
        "it takes: fps, height, quality, source, width"
    )


def test_refused_value_names_the_driver(tmp_path: Path) -> None:
    """
    A value the driver refuses is reported with the driver's name.
    """
    with pytest.raises(ConfigError) as caught:
        make_camera("emulated", {"source": str(tmp_path)})
    assert str(caught.value) == (
        f"camera 'emulated': source {str(tmp_path)!r} holds no *.jpg files"
    )


def test_seed_module_convention(in_folder: Path) -> None:
    """
    C{camera_NAME.py} in the working directory provides driver C{NAME}
    through its C{Camera} class.
    """
    (in_folder / "camera_foo.py").write_text(
        "class Camera:\n"
        "    def __init__(self, fps=1):\n"
        "        self.fps = fps\n"
        "    def frames(self):\n"
        "        yield b'jpeg'\n"
    )
    camera = blocking_camera("foo", {"fps": 3})
    assert type(camera).__module__ == "camera_foo"
    assert list(camera.frames()) == [b"jpeg"]


def test_seed_module_without_camera_class(in_folder: Path) -> None:
    """
    A C{camera_NAME.py} without a C{Camera} class is reported as such.
    """
    (in_folder / "camera_bar.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match=r"camera_bar.py has no Camera class"):
        find_driver("bar")


def test_seed_module_with_missing_dependency(in_folder: Path) -> None:
    """
    A driver module needing an absent library names the library.
    """
    (in_folder / "camera_baz.py").write_text("import picamera_not_here\n")
    with pytest.raises(ConfigError) as caught:
        find_driver("baz")
    assert str(caught.value) == (
        "camera 'baz': camera_baz.py needs 'picamera_not_here', which is not installed"
    )


class _Typed:
    """
    A driver whose options are declared with types.
    """

    def __init__(
        self,
        *,
        count: int = 1,
        rate: float = 1.0,
        loop: bool = True,
        label: str = "",
        limit: int | None = None,
        either: int | str = 0,
    ) -> None:
        self.values = (count, rate, loop, label, limit, either)

    def frames(self) -> Iterator[bytes]:
        yield b""


def _register(monkeypatch: pytest.MonkeyPatch, name: str, factory: object) -> None:
    module = type(sys)(f"_camserve_test_{name}")
    module.Driver = factory  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(_BUILT_IN, name, f"{module.__name__}:Driver")


def test_text_options_become_declared_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Options given as text (C{--option}, the environment) reach the driver as
    the types its constructor declares; undeclared and C{str} ones stay text.
    """
    _register(monkeypatch, "typed", _Typed)
    camera = make_camera(
        "typed",
        {
            "count": " 3",
            "rate": "2.5",
            "loop": "OFF",
            "label": "7",
            "limit": "9",
            "either": "x",
        },
    )
    assert isinstance(camera, _Typed)
    assert camera.values == (3, 2.5, False, "7", 9, "x")
    typed = make_camera("typed", {"loop": "yes", "either": "4", "rate": 3})
    assert isinstance(typed, _Typed)
    assert typed.values == (1, 3, True, "", None, 4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"count": "2.5"},
            "camera 'typed': option count must be a whole number, not '2.5'",
        ),
        ({"rate": "fast"}, "camera 'typed': option rate must be a number, not 'fast'"),
        (
            {"loop": "maybe"},
            "camera 'typed': option loop must be true or false, not 'maybe'",
        ),
    ],
)
def test_text_options_of_the_wrong_type(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, str], message: str
) -> None:
    """
    Text that is not of an option's declared type is refused in one line.
    """
    _register(monkeypatch, "typed", _Typed)
    with pytest.raises(ConfigError) as caught:
        make_camera("typed", options)
    assert str(caught.value) == message


class _NeedsLibrary(_Typed):
    """
    A driver needing a library nobody has.
    """

    requires = {"camserve_no_such_library": "pip install camserve-no-such-library"}  # noqa: RUF012


def test_missing_library(monkeypatch: pytest.MonkeyPatch, in_folder: Path) -> None:
    """
    A driver whose library is not installed is refused in one line saying how
    to install it, and listed as not usable.
    """
    _register(monkeypatch, "needy", _NeedsLibrary)
    with pytest.raises(ConfigError) as caught:
        make_camera("needy", {})
    assert str(caught.value) == (
        "camera 'needy' needs camserve_no_such_library, which is not installed: "
        "pip install camserve-no-such-library"
    )
    [info] = [info for info in describe_drivers() if info.name == "needy"]
    assert not info.usable
    assert info.description == (
        "needs camserve_no_such_library, which is not installed: "
        "pip install camserve-no-such-library"
    )


@implementer(IFrameSource)
class _Asynchronous:
    """
    An asynchronous driver.
    """

    def __init__(self, *, reactor: object, url: str = "") -> None:
        self.reactor = reactor
        self.url = url

    def start(self, deliver: object, stopped: object) -> None:
        """
        Never delivers.
        """

    def stop(self) -> None:
        """
        Nothing to stop.
        """


def test_asynchronous_driver_gets_the_reactor(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A driver class implementing L{IFrameSource} is made with its options and
    the reactor, which is not an option a user can give.
    """
    _register(monkeypatch, "async", _Asynchronous)
    clock = Clock()
    source = make_camera("async", {"url": "http://x/"}, clock)
    assert isinstance(source, _Asynchronous)
    assert (source.reactor, source.url) == (clock, "http://x/")
    with pytest.raises(ConfigError) as caught:
        make_camera("async", {"reactor": "x"}, clock)
    assert str(caught.value) == (
        "camera 'async' does not take option 'reactor'; it takes: url"
    )
