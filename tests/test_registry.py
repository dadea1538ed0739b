"""
Tests for L{camserve._registry}: finding drivers and making cameras.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

from camserve import ConfigError, EmulatedCamera, driver_names, find_driver, make_camera

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
        "unknown camera 'nosuch'; available: emulated, or a camera_nosuch.py "
        "module in the working directory"
    )


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
    camera = make_camera("foo", {"fps": 3})
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
